// Self-checking testbench of lela's MULT18X18D model (rtl/models/ecp5):
// each register stage and its latency, the sign controls, clock enable and
// synchronous reset, against a reference written here from the documented
// semantics. Random operands (xorshift, seed +seed=S) with the extremes
// mixed in; prints "checked N mismatches M" and $fatal on the first mismatch.
`timescale 1ns/1ps
module tb_mult18x18d;
  reg clk = 1'b0;
  always #5 clk = ~clk;
  reg [31:0] rng = 32'd1;
  reg [17:0] a = 18'd0, b = 18'd0;
  reg signa = 1'b1, signb = 1'b1, ce = 1'b1, rst = 1'b0;
  integer n = 0, cycles = 4000, arg;

  // P of the five instances
  wire [35:0] p_comb, p_io, p_ipo, p_ce, p_uns;
  `define PORTS(P, SA, SB, CE, RST) \
      .A17(a[17]), .A16(a[16]), .A15(a[15]), .A14(a[14]), .A13(a[13]), .A12(a[12]), \
      .A11(a[11]), .A10(a[10]), .A9(a[9]), .A8(a[8]), .A7(a[7]), .A6(a[6]), .A5(a[5]), \
      .A4(a[4]), .A3(a[3]), .A2(a[2]), .A1(a[1]), .A0(a[0]), \
      .B17(b[17]), .B16(b[16]), .B15(b[15]), .B14(b[14]), .B13(b[13]), .B12(b[12]), \
      .B11(b[11]), .B10(b[10]), .B9(b[9]), .B8(b[8]), .B7(b[7]), .B6(b[6]), .B5(b[5]), \
      .B4(b[4]), .B3(b[3]), .B2(b[2]), .B1(b[1]), .B0(b[0]), \
      .SIGNEDA(SA), .SIGNEDB(SB), .SOURCEA(1'b0), .SOURCEB(1'b0), \
      .CLK0(clk), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0), \
      .CE0(CE), .CE1(1'b0), .CE2(1'b0), .CE3(1'b0), \
      .RST0(RST), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0), \
      .P35(P[35]), .P34(P[34]), .P33(P[33]), .P32(P[32]), .P31(P[31]), .P30(P[30]), \
      .P29(P[29]), .P28(P[28]), .P27(P[27]), .P26(P[26]), .P25(P[25]), .P24(P[24]), \
      .P23(P[23]), .P22(P[22]), .P21(P[21]), .P20(P[20]), .P19(P[19]), .P18(P[18]), \
      .P17(P[17]), .P16(P[16]), .P15(P[15]), .P14(P[14]), .P13(P[13]), .P12(P[12]), \
      .P11(P[11]), .P10(P[10]), .P9(P[9]), .P8(P[8]), .P7(P[7]), .P6(P[6]), .P5(P[5]), \
      .P4(P[4]), .P3(P[3]), .P2(P[2]), .P1(P[1]), .P0(P[0])

  // no register: combinational
  MULT18X18D u_comb (`PORTS(p_comb, signa, signb, 1'b1, 1'b0));
  // input and output registers (lela's lanes): latency 2
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"),
               .GSR("DISABLED")) u_io (`PORTS(p_io, signa, signb, 1'b1, 1'b0));
  // input, pipeline and output registers: latency 3
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_PIPELINE_CLK("CLK0"),
               .REG_OUTPUT_CLK("CLK0"), .GSR("DISABLED"))
      u_ipo (`PORTS(p_ipo, signa, signb, 1'b1, 1'b0));
  // input and output registers with clock enable and synchronous reset
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"),
               .GSR("DISABLED")) u_ce (`PORTS(p_ce, signa, signb, ce, rst));
  // unsigned A, signed B (sign controls registered with the operands)
  MULT18X18D #(.REG_INPUTA_CLK("CLK0"), .REG_INPUTB_CLK("CLK0"), .REG_OUTPUT_CLK("CLK0"),
               .GSR("DISABLED")) u_uns (`PORTS(p_uns, 1'b0, signb, 1'b1, 1'b0));

  // the reference
  function [35:0] mul(input [17:0] x, input sx, input [17:0] y, input sy);
    reg signed [36:0] xe, ye;
    begin
      xe = sx ? {{19{x[17]}}, x} : {19'd0, x};
      ye = sy ? {{19{y[17]}}, y} : {19'd0, y};
      mul = xe * ye;
    end
  endfunction
  reg [35:0] io1 = 0, io2 = 0, ipo1 = 0, ipo2 = 0, ipo3 = 0, uns1 = 0, uns2 = 0;
  reg [17:0] ce_a = 0, ce_b = 0;
  reg ce_sa = 0, ce_sb = 0;
  reg [35:0] ce_p = 0;
  always @(posedge clk) begin
    io1 <= mul(a, signa, b, signb);  io2 <= io1;
    ipo1 <= mul(a, signa, b, signb); ipo2 <= ipo1; ipo3 <= ipo2;
    uns1 <= mul(a, 1'b0, b, signb);  uns2 <= uns1;
    if (rst) begin
      ce_a <= 0; ce_b <= 0; ce_sa <= 0; ce_sb <= 0; ce_p <= 0;
    end else if (ce) begin
      ce_a <= a; ce_b <= b; ce_sa <= signa; ce_sb <= signb; ce_p <= mul(ce_a, ce_sa, ce_b, ce_sb);
    end
  end

  task check(input [35:0] got, input [35:0] want, input [8*8-1:0] what);
    if (got !== want) begin
      $display("mismatch %0s at cycle %0d: got %h want %h (a %h b %h)", what, n, got, want, a, b);
      $fatal(1, "MULT18X18D model differs from the reference");
    end
  endtask

  initial begin
    if ($value$plusargs("seed=%d", arg)) rng = arg;
    if ($value$plusargs("cycles=%d", arg)) cycles = arg;
  end
  always @(negedge clk) begin
    // compare (settled after the rising edge), then drive the next operands
    if (n > 4) begin
      check(p_comb, mul(a, signa, b, signb), "comb");
      check(p_io, io2, "io");
      check(p_ipo, ipo3, "ipo");
      check(p_ce, ce_p, "ce");
      check(p_uns, uns2, "unsigned");
    end
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    case (rng[2:0])
      3'd0: a = 18'h20000;                       // the most negative
      3'd1: a = 18'h1FFFF;                       // the most positive
      default: a = rng[31:14];
    endcase
    rng = rng ^ (rng << 13); rng = rng ^ (rng >> 17); rng = rng ^ (rng << 5);
    case (rng[2:0])
      3'd0: b = 18'h20000;
      3'd1: b = 18'h3FFFF;                       // -1
      default: b = rng[31:14];
    endcase
    signa = rng[3] | rng[4];
    signb = rng[5] | rng[6];
    ce = rng[7] | rng[8];
    rst = rng[9] & rng[10] & rng[11];
    n = n + 1;
    if (n == cycles) begin
      $display("checked %0d mismatches 0", n - 5);
      $finish;
    end
  end
endmodule
