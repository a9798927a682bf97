// Behavioural simulation model of the Lattice ECP5 DP16KD (sysMEM 18 kbit
// true dual-port block RAM), written for lela from the documented semantics
// (Lattice TN1264, "ECP5 and ECP5-5G Memory Usage Guide"); the port list and
// parameters are those of Yosys's ECP5 cell library, the INITVAL packing the
// one of its block RAM mapping (brams_map_16kd.v, init_slice).
//
// Modelled: both ports at DATA_WIDTH 18 (1,024 words of 18 bits). A port's
// word address is AD[13:4]; AD[1:0] enable the writes of bits [8:0] and
// [17:9] (its byte enables); AD[3:2] are unused and ignored. On a rising
// clock edge with CE high (and the port selected: CS = CSDECODE = 0b000) a
// port writes DI to its word (the enabled bytes) when WE is high, and reads
// its word into its read latch when WE is low. WRITEMODE "NORMAL": a writing
// port's read latch keeps its value. REGMODE "NOREG": DO is the read latch,
// the data one cycle after the address. REGMODE "OUTREG": DO is one more
// register, loaded from the read latch on the edges where OCE is high, the
// data two cycles after the address. RST with RESETMODE "SYNC" clears the
// read latch on a clock edge whatever CE, and the output register on an edge
// where OCE is high; it does not change the memory, and a reset on an edge
// where the port writes stops the simulation. Latch and output register
// start at 0; the memory starts from INITVAL_00..INITVAL_3F, 320 bits each
// holding 16 words of 20 bits: word 16*k + j in bits [20*j+17:20*j] of
// INITVAL_k, bits [20*j+19:20*j+18] zero (INITVAL_00 holds words 0 to 15,
// word 0 in its lowest bits; INITVAL_3F words 1,008 to 1,023).
//
// A read on one port of a word the other port writes on the same edge
// returns the word's old contents here; the hardware does not guarantee
// them, and lela never uses such data. Two ports writing the same word on
// the same edge stop the simulation.
//
// Refused (the simulation stops): DATA_WIDTH other than 18, REGMODE other
// than NOREG/OUTREG, WRITEMODE other than NORMAL, RESETMODE other than SYNC,
// CSDECODE other than 0b000 or a CS input not 0 at a clock edge, CLKAMUX /
// CLKBMUX other than CLKA / CLKB (the inverted clock), nonzero padding bits
// in an INITVAL. Accepted and ignored, as they do not change the data: GSR,
// ASYNC_RESET_RELEASE (RESETMODE is SYNC), WID, INIT_DATA. The per-pin
// routing parameters of the cell library (DIA0MUX etc.) are not declared:
// Yosys and lela leave them at their defaults, and an instance that sets one
// does not elaborate.
`timescale 1ns/1ps
module DP16KD #(
    parameter DATA_WIDTH_A = 18, parameter DATA_WIDTH_B = 18,
    parameter REGMODE_A = "NOREG", parameter REGMODE_B = "NOREG",
    parameter RESETMODE = "SYNC", parameter ASYNC_RESET_RELEASE = "SYNC",
    parameter CSDECODE_A = "0b000", parameter CSDECODE_B = "0b000",
    parameter WRITEMODE_A = "NORMAL", parameter WRITEMODE_B = "NORMAL",
    parameter CLKAMUX = "CLKA", parameter CLKBMUX = "CLKB",
    parameter GSR = "ENABLED", parameter WID = 0, parameter INIT_DATA = "STATIC",
    parameter [319:0] INITVAL_00 = 320'h0, parameter [319:0] INITVAL_01 = 320'h0,
    parameter [319:0] INITVAL_02 = 320'h0, parameter [319:0] INITVAL_03 = 320'h0,
    parameter [319:0] INITVAL_04 = 320'h0, parameter [319:0] INITVAL_05 = 320'h0,
    parameter [319:0] INITVAL_06 = 320'h0, parameter [319:0] INITVAL_07 = 320'h0,
    parameter [319:0] INITVAL_08 = 320'h0, parameter [319:0] INITVAL_09 = 320'h0,
    parameter [319:0] INITVAL_0A = 320'h0, parameter [319:0] INITVAL_0B = 320'h0,
    parameter [319:0] INITVAL_0C = 320'h0, parameter [319:0] INITVAL_0D = 320'h0,
    parameter [319:0] INITVAL_0E = 320'h0, parameter [319:0] INITVAL_0F = 320'h0,
    parameter [319:0] INITVAL_10 = 320'h0, parameter [319:0] INITVAL_11 = 320'h0,
    parameter [319:0] INITVAL_12 = 320'h0, parameter [319:0] INITVAL_13 = 320'h0,
    parameter [319:0] INITVAL_14 = 320'h0, parameter [319:0] INITVAL_15 = 320'h0,
    parameter [319:0] INITVAL_16 = 320'h0, parameter [319:0] INITVAL_17 = 320'h0,
    parameter [319:0] INITVAL_18 = 320'h0, parameter [319:0] INITVAL_19 = 320'h0,
    parameter [319:0] INITVAL_1A = 320'h0, parameter [319:0] INITVAL_1B = 320'h0,
    parameter [319:0] INITVAL_1C = 320'h0, parameter [319:0] INITVAL_1D = 320'h0,
    parameter [319:0] INITVAL_1E = 320'h0, parameter [319:0] INITVAL_1F = 320'h0,
    parameter [319:0] INITVAL_20 = 320'h0, parameter [319:0] INITVAL_21 = 320'h0,
    parameter [319:0] INITVAL_22 = 320'h0, parameter [319:0] INITVAL_23 = 320'h0,
    parameter [319:0] INITVAL_24 = 320'h0, parameter [319:0] INITVAL_25 = 320'h0,
    parameter [319:0] INITVAL_26 = 320'h0, parameter [319:0] INITVAL_27 = 320'h0,
    parameter [319:0] INITVAL_28 = 320'h0, parameter [319:0] INITVAL_29 = 320'h0,
    parameter [319:0] INITVAL_2A = 320'h0, parameter [319:0] INITVAL_2B = 320'h0,
    parameter [319:0] INITVAL_2C = 320'h0, parameter [319:0] INITVAL_2D = 320'h0,
    parameter [319:0] INITVAL_2E = 320'h0, parameter [319:0] INITVAL_2F = 320'h0,
    parameter [319:0] INITVAL_30 = 320'h0, parameter [319:0] INITVAL_31 = 320'h0,
    parameter [319:0] INITVAL_32 = 320'h0, parameter [319:0] INITVAL_33 = 320'h0,
    parameter [319:0] INITVAL_34 = 320'h0, parameter [319:0] INITVAL_35 = 320'h0,
    parameter [319:0] INITVAL_36 = 320'h0, parameter [319:0] INITVAL_37 = 320'h0,
    parameter [319:0] INITVAL_38 = 320'h0, parameter [319:0] INITVAL_39 = 320'h0,
    parameter [319:0] INITVAL_3A = 320'h0, parameter [319:0] INITVAL_3B = 320'h0,
    parameter [319:0] INITVAL_3C = 320'h0, parameter [319:0] INITVAL_3D = 320'h0,
    parameter [319:0] INITVAL_3E = 320'h0, parameter [319:0] INITVAL_3F = 320'h0
) (
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
          DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    input CEA, OCEA, CLKA, WEA, RSTA,
    input CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
           DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
          DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    input CEB, OCEB, CLKB, WEB, RSTB,
    input CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
           DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  function automatic [319:0] initval(input integer k);
    case (k)
      0: initval = INITVAL_00;
      1: initval = INITVAL_01;
      2: initval = INITVAL_02;
      3: initval = INITVAL_03;
      4: initval = INITVAL_04;
      5: initval = INITVAL_05;
      6: initval = INITVAL_06;
      7: initval = INITVAL_07;
      8: initval = INITVAL_08;
      9: initval = INITVAL_09;
      10: initval = INITVAL_0A;
      11: initval = INITVAL_0B;
      12: initval = INITVAL_0C;
      13: initval = INITVAL_0D;
      14: initval = INITVAL_0E;
      15: initval = INITVAL_0F;
      16: initval = INITVAL_10;
      17: initval = INITVAL_11;
      18: initval = INITVAL_12;
      19: initval = INITVAL_13;
      20: initval = INITVAL_14;
      21: initval = INITVAL_15;
      22: initval = INITVAL_16;
      23: initval = INITVAL_17;
      24: initval = INITVAL_18;
      25: initval = INITVAL_19;
      26: initval = INITVAL_1A;
      27: initval = INITVAL_1B;
      28: initval = INITVAL_1C;
      29: initval = INITVAL_1D;
      30: initval = INITVAL_1E;
      31: initval = INITVAL_1F;
      32: initval = INITVAL_20;
      33: initval = INITVAL_21;
      34: initval = INITVAL_22;
      35: initval = INITVAL_23;
      36: initval = INITVAL_24;
      37: initval = INITVAL_25;
      38: initval = INITVAL_26;
      39: initval = INITVAL_27;
      40: initval = INITVAL_28;
      41: initval = INITVAL_29;
      42: initval = INITVAL_2A;
      43: initval = INITVAL_2B;
      44: initval = INITVAL_2C;
      45: initval = INITVAL_2D;
      46: initval = INITVAL_2E;
      47: initval = INITVAL_2F;
      48: initval = INITVAL_30;
      49: initval = INITVAL_31;
      50: initval = INITVAL_32;
      51: initval = INITVAL_33;
      52: initval = INITVAL_34;
      53: initval = INITVAL_35;
      54: initval = INITVAL_36;
      55: initval = INITVAL_37;
      56: initval = INITVAL_38;
      57: initval = INITVAL_39;
      58: initval = INITVAL_3A;
      59: initval = INITVAL_3B;
      60: initval = INITVAL_3C;
      61: initval = INITVAL_3D;
      62: initval = INITVAL_3E;
      63: initval = INITVAL_3F;
      default: initval = 320'h0;
    endcase
  endfunction

  // written by both ports' clocks (a true dual-port memory)
  /* verilator lint_off MULTIDRIVEN */
  reg [17:0] mem [0:1023];
  /* verilator lint_on MULTIDRIVEN */
  integer i;
  reg [319:0] row;
  initial begin
    if (DATA_WIDTH_A != 18 || DATA_WIDTH_B != 18)
      $fatal(1, "DP16KD model: only DATA_WIDTH_A = DATA_WIDTH_B = 18 is modelled");
    if ((REGMODE_A != "NOREG" && REGMODE_A != "OUTREG") ||
        (REGMODE_B != "NOREG" && REGMODE_B != "OUTREG"))
      $fatal(1, "DP16KD model: REGMODE must be NOREG or OUTREG");
    if (WRITEMODE_A != "NORMAL" || WRITEMODE_B != "NORMAL")
      $fatal(1, "DP16KD model: only WRITEMODE NORMAL is modelled");
    if (RESETMODE != "SYNC")
      $fatal(1, "DP16KD model: only RESETMODE SYNC is modelled");
    if (CSDECODE_A != "0b000" || CSDECODE_B != "0b000")
      $fatal(1, "DP16KD model: only CSDECODE 0b000 is modelled");
    if (CLKAMUX != "CLKA" || CLKBMUX != "CLKB")
      $fatal(1, "DP16KD model: the inverted clocks (CLKAMUX/CLKBMUX) are not modelled");
    for (i = 0; i < 1024; i = i + 1) begin
      row = initval(i / 16);
      mem[i] = row[(i % 16) * 20 +: 18];
      if (row[(i % 16) * 20 + 18 +: 2] != 2'b00)
        $fatal(1, "DP16KD model: INITVAL_%h has nonzero padding bits", i / 16);
    end
  end

  wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9,
                     DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9,
                     DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7,
                     ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7,
                     ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [9:0] wa = ada[13:4], wb = adb[13:4];

  reg [17:0] lat_a = 18'd0, lat_b = 18'd0, out_a = 18'd0, out_b = 18'd0;
  // when each port last wrote, and where: two writes of one word on one edge
  realtime wtime_a = -1.0, wtime_b = -1.0;
  reg [9:0] wword_a = 10'd0, wword_b = 10'd0;

  always @(posedge CLKA) begin
    if ({CSA2, CSA1, CSA0} !== 3'b000)
      $fatal(1, "DP16KD model: port A deselected (CS not 0) is not modelled");
    if (RSTA && CEA && WEA)
      $fatal(1, "DP16KD model: port A reset while writing is not modelled");
    if (RSTA) lat_a <= 18'd0;
    else if (CEA && !WEA) lat_a <= mem[wa];
    if (OCEA) out_a <= RSTA ? 18'd0 : lat_a;
    if (CEA && WEA && (ada[0] || ada[1])) begin
      if (wtime_b == $realtime && wword_b == wa)
        $fatal(1, "DP16KD model: both ports write word %0d on one edge", wa);
      wtime_a = $realtime; wword_a = wa;
      mem[wa] <= {ada[1] ? dia[17:9] : mem[wa][17:9], ada[0] ? dia[8:0] : mem[wa][8:0]};
    end
  end

  always @(posedge CLKB) begin
    if ({CSB2, CSB1, CSB0} !== 3'b000)
      $fatal(1, "DP16KD model: port B deselected (CS not 0) is not modelled");
    if (RSTB && CEB && WEB)
      $fatal(1, "DP16KD model: port B reset while writing is not modelled");
    if (RSTB) lat_b <= 18'd0;
    else if (CEB && !WEB) lat_b <= mem[wb];
    if (OCEB) out_b <= RSTB ? 18'd0 : lat_b;
    if (CEB && WEB && (adb[0] || adb[1])) begin
      if (wtime_a == $realtime && wword_a == wb)
        $fatal(1, "DP16KD model: both ports write word %0d on one edge", wb);
      wtime_b = $realtime; wword_b = wb;
      mem[wb] <= {adb[1] ? dib[17:9] : mem[wb][17:9], adb[0] ? dib[8:0] : mem[wb][8:0]};
    end
  end

  wire [17:0] doa = REGMODE_A == "OUTREG" ? out_a : lat_a;
  wire [17:0] dob = REGMODE_B == "OUTREG" ? out_b : lat_b;
  assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9,
          DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
  assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9,
          DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
