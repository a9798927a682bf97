"""cocotb testbenches and simulation runners."""
