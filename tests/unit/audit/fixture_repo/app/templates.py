"""Chat templates written by hand: each breaks the day the model changes."""

GEMMA = "<start_of_turn>user\n{q}<end_of_turn>\n"
CHATML = "<|im_start|>user\n{q}<|im_end|>\n"
MISTRAL = "[INST] {q} [/INST]"
GLM = "[gMASK]<sop><|user|>\n{q}"
HTML = "<s>struck out</s> and <pad> are not templates"
