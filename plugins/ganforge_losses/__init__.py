"""Adversarial losses, computed from logits with keras.ops."""
from ganforge import hookimpl


@hookimpl
def register_losses(register):
    register(
        "nonsaturating",
        "ganforge_losses.bce:NonSaturating",
        help="BCE with fakes labelled 1 for G (the article's training, Goodfellow's recommended form)",
    )
    register(
        "minimax",
        "ganforge_losses.bce:Minimax",
        help="the original minimax game: G minimises log(1 - D(G(z))) (saturates early in training)",
    )

