// Self-checking testbench of lela's DP16KD model (rtl/models/ecp5): both
// ports reading and writing at random (clock enables, byte enables, the
// output register's enable, synchronous reset, reads of the word the other
// port writes), REGMODE NOREG on one port and OUTREG on the other in two
// instances, the initial contents from INITVAL, against a reference memory
// written here from the documented semantics. The first 1,100 cycles read
// every word's initial contents (no writes). Random stimulus (xorshift, seed
// +seed=S); prints "checked N mismatches M" and $fatal on the first mismatch.
`timescale 1ns/1ps
module tb_dp16kd;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [31:0] rng = 32'd1;
  integer n = 0, cycles = 6000, arg, k;

  // the initial contents: word i is init_word(i), packed 16 words of 20 bits
  // per INITVAL (word 16*k + j in bits [20*j+17:20*j] of INITVAL_k)
  function automatic [17:0] init_word(input integer i);
    reg [31:0] x;
    begin
      x = i * 32'h9E3779B1 + 32'h7F4A7C15;
      x = x ^ (x >> 15);
      x = x * 32'h2C1B3C6D;
      x = x ^ (x >> 12);
      init_word = x[17:0];
    end
  endfunction
  function automatic [319:0] pack(input integer k);
    integer j;
    begin
      pack = 320'd0;
      for (j = 0; j < 16; j = j + 1) pack[j * 20 +: 18] = init_word(16 * k + j);
    end
  endfunction

  reg [17:0] da = 0, db = 0;
  reg [9:0] wa = 0, wb = 0;
  reg [1:0] bea = 2'b11, beb = 2'b11, xa = 0, xb = 0;   // byte enables, unused AD[3:2]
  wire [13:0] ada = {wa, xa, bea}, adb = {wb, xb, beb};
  reg cea = 1'b1, ceb = 1'b1, wea = 1'b0, web = 1'b0, ocea = 1'b1, oceb = 1'b1;
  reg rsta = 1'b0, rstb = 1'b0;

  `define INITS \
      .INITVAL_00(pack(0)), .INITVAL_01(pack(1)), .INITVAL_02(pack(2)), .INITVAL_03(pack(3)), \
      .INITVAL_04(pack(4)), .INITVAL_05(pack(5)), .INITVAL_06(pack(6)), .INITVAL_07(pack(7)), \
      .INITVAL_08(pack(8)), .INITVAL_09(pack(9)), .INITVAL_0A(pack(10)), .INITVAL_0B(pack(11)), \
      .INITVAL_0C(pack(12)), .INITVAL_0D(pack(13)), .INITVAL_0E(pack(14)), .INITVAL_0F(pack(15)), \
      .INITVAL_10(pack(16)), .INITVAL_11(pack(17)), .INITVAL_12(pack(18)), .INITVAL_13(pack(19)), \
      .INITVAL_14(pack(20)), .INITVAL_15(pack(21)), .INITVAL_16(pack(22)), .INITVAL_17(pack(23)), \
      .INITVAL_18(pack(24)), .INITVAL_19(pack(25)), .INITVAL_1A(pack(26)), .INITVAL_1B(pack(27)), \
      .INITVAL_1C(pack(28)), .INITVAL_1D(pack(29)), .INITVAL_1E(pack(30)), .INITVAL_1F(pack(31)), \
      .INITVAL_20(pack(32)), .INITVAL_21(pack(33)), .INITVAL_22(pack(34)), .INITVAL_23(pack(35)), \
      .INITVAL_24(pack(36)), .INITVAL_25(pack(37)), .INITVAL_26(pack(38)), .INITVAL_27(pack(39)), \
      .INITVAL_28(pack(40)), .INITVAL_29(pack(41)), .INITVAL_2A(pack(42)), .INITVAL_2B(pack(43)), \
      .INITVAL_2C(pack(44)), .INITVAL_2D(pack(45)), .INITVAL_2E(pack(46)), .INITVAL_2F(pack(47)), \
      .INITVAL_30(pack(48)), .INITVAL_31(pack(49)), .INITVAL_32(pack(50)), .INITVAL_33(pack(51)), \
      .INITVAL_34(pack(52)), .INITVAL_35(pack(53)), .INITVAL_36(pack(54)), .INITVAL_37(pack(55)), \
      .INITVAL_38(pack(56)), .INITVAL_39(pack(57)), .INITVAL_3A(pack(58)), .INITVAL_3B(pack(59)), \
      .INITVAL_3C(pack(60)), .INITVAL_3D(pack(61)), .INITVAL_3E(pack(62)), .INITVAL_3F(pack(63))
  `define PORTS(DOA, DOB) \
      .DIA17(da[17]), .DIA16(da[16]), .DIA15(da[15]), .DIA14(da[14]), .DIA13(da[13]), .DIA12(da[12]), .DIA11(da[11]), .DIA10(da[10]), .DIA9(da[9]), .DIA8(da[8]), .DIA7(da[7]), .DIA6(da[6]), .DIA5(da[5]), .DIA4(da[4]), .DIA3(da[3]), .DIA2(da[2]), .DIA1(da[1]), .DIA0(da[0]), \
      .ADA13(ada[13]), .ADA12(ada[12]), .ADA11(ada[11]), .ADA10(ada[10]), .ADA9(ada[9]), .ADA8(ada[8]), .ADA7(ada[7]), .ADA6(ada[6]), .ADA5(ada[5]), .ADA4(ada[4]), .ADA3(ada[3]), .ADA2(ada[2]), .ADA1(ada[1]), .ADA0(ada[0]), \
      .CEA(cea), .OCEA(ocea), .CLKA(clk), .WEA(wea), .RSTA(rsta), .CSA2(1'b0), .CSA1(1'b0), .CSA0(1'b0), \
      .DOA17(DOA[17]), .DOA16(DOA[16]), .DOA15(DOA[15]), .DOA14(DOA[14]), .DOA13(DOA[13]), .DOA12(DOA[12]), .DOA11(DOA[11]), .DOA10(DOA[10]), .DOA9(DOA[9]), .DOA8(DOA[8]), .DOA7(DOA[7]), .DOA6(DOA[6]), .DOA5(DOA[5]), .DOA4(DOA[4]), .DOA3(DOA[3]), .DOA2(DOA[2]), .DOA1(DOA[1]), .DOA0(DOA[0]), \
      .DIB17(db[17]), .DIB16(db[16]), .DIB15(db[15]), .DIB14(db[14]), .DIB13(db[13]), .DIB12(db[12]), .DIB11(db[11]), .DIB10(db[10]), .DIB9(db[9]), .DIB8(db[8]), .DIB7(db[7]), .DIB6(db[6]), .DIB5(db[5]), .DIB4(db[4]), .DIB3(db[3]), .DIB2(db[2]), .DIB1(db[1]), .DIB0(db[0]), \
      .ADB13(adb[13]), .ADB12(adb[12]), .ADB11(adb[11]), .ADB10(adb[10]), .ADB9(adb[9]), .ADB8(adb[8]), .ADB7(adb[7]), .ADB6(adb[6]), .ADB5(adb[5]), .ADB4(adb[4]), .ADB3(adb[3]), .ADB2(adb[2]), .ADB1(adb[1]), .ADB0(adb[0]), \
      .CEB(ceb), .OCEB(oceb), .CLKB(clk), .WEB(web), .RSTB(rstb), .CSB2(1'b0), .CSB1(1'b0), .CSB0(1'b0), \
      .DOB17(DOB[17]), .DOB16(DOB[16]), .DOB15(DOB[15]), .DOB14(DOB[14]), .DOB13(DOB[13]), .DOB12(DOB[12]), .DOB11(DOB[11]), .DOB10(DOB[10]), .DOB9(DOB[9]), .DOB8(DOB[8]), .DOB7(DOB[7]), .DOB6(DOB[6]), .DOB5(DOB[5]), .DOB4(DOB[4]), .DOB3(DOB[3]), .DOB2(DOB[2]), .DOB1(DOB[1]), .DOB0(DOB[0])

  wire [17:0] nb_a, nb_b, bn_a, bn_b;
  // A without, B with the output register (lela's weight memories)
  DP16KD #(.DATA_WIDTH_A(18), .DATA_WIDTH_B(18), .REGMODE_A("NOREG"), .REGMODE_B("OUTREG"),
           .GSR("DISABLED"), `INITS) u_nb (`PORTS(nb_a, nb_b));
  // A with, B without
  DP16KD #(.DATA_WIDTH_A(18), .DATA_WIDTH_B(18), .REGMODE_A("OUTREG"), .REGMODE_B("NOREG"),
           .GSR("DISABLED"), `INITS) u_bn (`PORTS(bn_a, bn_b));

  // the reference: the memory, each port's read latch and output register
  reg [17:0] mem [0:1023];
  initial for (k = 0; k < 1024; k = k + 1) mem[k] = init_word(k);
  reg [17:0] lat_a = 0, lat_b = 0, out_a = 0, out_b = 0;
  always @(posedge clk) begin
    // reads see the contents before this edge's writes
    if (rsta) lat_a <= 0; else if (cea && !wea) lat_a <= mem[wa];
    if (rstb) lat_b <= 0; else if (ceb && !web) lat_b <= mem[wb];
    if (ocea) out_a <= rsta ? 18'd0 : lat_a;
    if (oceb) out_b <= rstb ? 18'd0 : lat_b;
    if (cea && wea && bea[0]) mem[wa][8:0] <= da[8:0];
    if (cea && wea && bea[1]) mem[wa][17:9] <= da[17:9];
    if (ceb && web && beb[0]) mem[wb][8:0] <= db[8:0];
    if (ceb && web && beb[1]) mem[wb][17:9] <= db[17:9];
  end

  task check(input [17:0] got, input [17:0] want, input [8*8-1:0] what);
    if (got !== want) begin
      $display("mismatch %0s at cycle %0d: got %h want %h", what, n, got, want);
      $fatal(1, "DP16KD model differs from the reference");
    end
  endtask

  // a random word address: one of the first eight words a quarter of the
  // time (reads of the word the other port writes, writes over the words just read)
  function automatic [9:0] addr(input [31:0] r);
    addr = r[1:0] == 2'b00 ? {7'd0, r[4:2]} : r[14:5];
  endfunction
  task step;
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
  endtask

  initial begin
    if ($value$plusargs("seed=%d", arg)) rng = arg;
    if ($value$plusargs("cycles=%d", arg)) cycles = arg;
  end
  always @(negedge clk) begin
    // compare (settled after the rising edge), then drive the next cycle
    check(nb_a, lat_a, "noreg A");
    check(nb_b, out_b, "outreg B");
    check(bn_a, out_a, "outreg A");
    check(bn_b, lat_b, "noreg B");
    step; ocea = rng[0] | rng[1]; oceb = rng[2] | rng[3]; xa = rng[5:4]; xb = rng[7:6];
    step; db = rng[31:14];
    step; da = rng[31:14];
    step;
    if (n < 1100) begin
      // the initial contents: A sweeps every word, B reads at random
      wa = n; wb = addr(rng); cea = 1'b1; ceb = rng[15] | rng[16];
      wea = 1'b0; web = 1'b0; rsta = 1'b0; rstb = 1'b0;
    end else begin
      wa = addr(rng);
      cea = rng[15] | rng[16]; wea = rng[17]; bea = rng[19:18] == 0 ? 2'b11 : rng[19:18];
      rsta = rng[24:20] == 0 && !(cea && wea);
      step;
      wb = addr(rng);
      ceb = rng[15] | rng[16]; web = rng[17]; beb = rng[19:18] == 0 ? 2'b11 : rng[19:18];
      rstb = rng[24:20] == 0 && !(ceb && web);
      if (cea && wea && ceb && web && wa == wb) web = 1'b0;   // one writer per word and edge
    end
    n = n + 1;
    if (n == cycles) begin
      $display("checked %0d mismatches 0", n);
      $finish;
    end
  end
endmodule
