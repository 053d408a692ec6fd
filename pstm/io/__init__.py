"""File input and output: the only modules of pstm that touch files."""
