"""Transfer learning for survival: pretrain an encoder on source cohorts, fine-tune with Cox."""
