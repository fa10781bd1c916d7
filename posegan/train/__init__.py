"""Training loops of the three training stages (pretrain_2d, pretrain_depth, adversarial)."""
