"""Golden models of lela: the float learning rule and the bit-exact fixed-point datapath."""
