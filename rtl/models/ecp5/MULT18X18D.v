// Behavioural simulation model of the Lattice ECP5 MULT18X18D (sysDSP
// 18x18 multiplier), written for lela from the documented semantics
// (Lattice TN1267, "ECP5 and ECP5-5G sysDSP Usage Guide"): P = A * B, each
// operand signed when its SIGNED input is 1 (registered with the operand),
// through up to three optional register stages: input (A, B, and the sign
// controls), pipeline (the product), output (P). A stage whose REG_*_CLK is
// "NONE" is a wire; otherwise it is clocked by CLK0..CLK3, enabled by the
// chosen CE and reset to 0 by the chosen RST (synchronous with RESETMODE
// "SYNC", asynchronous with "ASYNC").
//
// Modelled: the multiply and its registers. Not modelled: the shift-register
// operand sources (SOURCEA/SOURCEB = 1 stops the simulation; the SRI/SRO/RO
// cascade ports are left open) and MULT_BYPASS (refused at elaboration);
// the C input is accepted and unused (it feeds only the ALU54B). GSR,
// CLKn_DIV, HIGHSPEED_CLK and CAS_MATCH_REG do not change the arithmetic and
// are ignored.
`timescale 1ns/1ps
module MULT18X18D #(
    parameter REG_INPUTA_CLK = "NONE", parameter REG_INPUTA_CE = "CE0",
    parameter REG_INPUTA_RST = "RST0",
    parameter REG_INPUTB_CLK = "NONE", parameter REG_INPUTB_CE = "CE0",
    parameter REG_INPUTB_RST = "RST0",
    parameter REG_INPUTC_CLK = "NONE", parameter REG_INPUTC_CE = "CE0",
    parameter REG_INPUTC_RST = "RST0",
    parameter REG_PIPELINE_CLK = "NONE", parameter REG_PIPELINE_CE = "CE0",
    parameter REG_PIPELINE_RST = "RST0",
    parameter REG_OUTPUT_CLK = "NONE", parameter REG_OUTPUT_CE = "CE0",
    parameter REG_OUTPUT_RST = "RST0",
    parameter CLK0_DIV = "ENABLED", parameter CLK1_DIV = "ENABLED",
    parameter CLK2_DIV = "ENABLED", parameter CLK3_DIV = "ENABLED",
    parameter HIGHSPEED_CLK = "NONE", parameter GSR = "ENABLED",
    parameter CAS_MATCH_REG = "FALSE", parameter SOURCEB_MODE = "B_SHIFT",
    parameter MULT_BYPASS = "DISABLED", parameter RESETMODE = "SYNC"
) (
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
    output P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
    output P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    output SIGNEDP
);
  initial begin
    if (MULT_BYPASS != "DISABLED")
      $fatal(1, "MULT18X18D model: MULT_BYPASS = %s is not modelled", MULT_BYPASS);
    if (RESETMODE != "SYNC" && RESETMODE != "ASYNC")
      $fatal(1, "MULT18X18D model: RESETMODE must be SYNC or ASYNC");
  end

  always @(SOURCEA or SOURCEB)
    if (SOURCEA === 1'b1 || SOURCEB === 1'b1)
      $fatal(1, "MULT18X18D model: the shift-register sources (SOURCEA/SOURCEB) are not modelled");

  function automatic sel4(input [8*8-1:0] name, input v0, input v1, input v2, input v3);
    sel4 = name == "CLK0" || name == "CE0" || name == "RST0" ? v0 :
           name == "CLK1" || name == "CE1" || name == "RST1" ? v1 :
           name == "CLK2" || name == "CE2" || name == "RST2" ? v2 : v3;
  endfunction

  wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

  // input stage: A with SIGNEDA, B with SIGNEDB
  wire [18:0] a_in, b_in;
  lela_ecp5_stage #(.W(19), .CLK(REG_INPUTA_CLK), .RESETMODE(RESETMODE)) sa (
      .d({SIGNEDA, a}), .q(a_in),
      .clk(sel4(REG_INPUTA_CLK, CLK0, CLK1, CLK2, CLK3)),
      .ce(sel4(REG_INPUTA_CE, CE0, CE1, CE2, CE3)),
      .rst(sel4(REG_INPUTA_RST, RST0, RST1, RST2, RST3)));
  lela_ecp5_stage #(.W(19), .CLK(REG_INPUTB_CLK), .RESETMODE(RESETMODE)) sb (
      .d({SIGNEDB, b}), .q(b_in),
      .clk(sel4(REG_INPUTB_CLK, CLK0, CLK1, CLK2, CLK3)),
      .ce(sel4(REG_INPUTB_CE, CE0, CE1, CE2, CE3)),
      .rst(sel4(REG_INPUTB_RST, RST0, RST1, RST2, RST3)));

  // the multiply: each operand extended by its sign bit when signed
  wire signed [35:0] a_ext = {{18{a_in[18] & a_in[17]}}, a_in[17:0]};
  wire signed [35:0] b_ext = {{18{b_in[18] & b_in[17]}}, b_in[17:0]};
  wire [35:0] product = a_ext * b_ext;
  wire signed_p = a_in[18] | b_in[18];

  wire [36:0] piped, out;
  lela_ecp5_stage #(.W(37), .CLK(REG_PIPELINE_CLK), .RESETMODE(RESETMODE)) sp (
      .d({signed_p, product}), .q(piped),
      .clk(sel4(REG_PIPELINE_CLK, CLK0, CLK1, CLK2, CLK3)),
      .ce(sel4(REG_PIPELINE_CE, CE0, CE1, CE2, CE3)),
      .rst(sel4(REG_PIPELINE_RST, RST0, RST1, RST2, RST3)));
  lela_ecp5_stage #(.W(37), .CLK(REG_OUTPUT_CLK), .RESETMODE(RESETMODE)) so (
      .d(piped), .q(out),
      .clk(sel4(REG_OUTPUT_CLK, CLK0, CLK1, CLK2, CLK3)),
      .ce(sel4(REG_OUTPUT_CE, CE0, CE1, CE2, CE3)),
      .rst(sel4(REG_OUTPUT_RST, RST0, RST1, RST2, RST3)));

  assign {SIGNEDP, P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24,
          P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12,
          P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = out;
endmodule

// One optional register stage of the model: a wire when CLK is "NONE".
module lela_ecp5_stage #(parameter W = 1, parameter CLK = "NONE",
                         parameter RESETMODE = "SYNC") (
    input [W-1:0] d, output [W-1:0] q, input clk, input ce, input rst
);
  generate
    if (CLK == "NONE") begin : wire_stage
      assign q = d;
    end else if (RESETMODE == "ASYNC") begin : async_stage
      reg [W-1:0] r = {W{1'b0}};
      always @(posedge clk or posedge rst)
        if (rst) r <= {W{1'b0}};
        else if (ce) r <= d;
      assign q = r;
    end else begin : sync_stage
      reg [W-1:0] r = {W{1'b0}};
      always @(posedge clk)
        if (rst) r <= {W{1'b0}};
        else if (ce) r <= d;
      assign q = r;
    end
  endgenerate
endmodule
