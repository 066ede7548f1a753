"""The adversarial training step, compiled once with tf.function.

This is the only TensorFlow-specific training code: a second backend is one
more module with the same ``AdversarialStep`` interface.

One step is ``d_steps`` discriminator updates, then one generator update:

1. take a batch of real images (one per discriminator update);
2. make fakes from fresh noise;
3. update D on real (label 1) and fake (label 0), only D's weights moving;
4. make new fakes;
5. update G through D with the fakes labelled "real", only G's weights moving.

Each update differentiates with respect to one model's variables and applies
that model's own optimizer — which is why no ``trainable = False`` switch is
needed (and why the article's use of it is a trap in Keras 3).

Noise comes from ``stateless_normal`` keyed by (seed, step, draw), so the
noise of any step is known without replaying the steps before it: a resumed
run draws exactly what the uninterrupted run drew.
"""
from __future__ import annotations

from ganforge.backend import tensorflow


class AdversarialStep:
    def __init__(self, generator, discriminator, loss, generator_optimizer, discriminator_optimizer, *, batch_size: int, latent_dim: int, d_steps: int, seed: int, jit_compile: bool = False):
        tf = tensorflow()
        self.generator = generator
        self.discriminator = discriminator
        self.loss = loss
        self.generator_optimizer = generator_optimizer
        self.discriminator_optimizer = discriminator_optimizer
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.d_steps = d_steps
        self.seed = seed
        # Build the optimizers' slots now so checkpoints can be restored into
        # them before the first step runs.
        generator_optimizer.build(generator.trainable_variables)
        discriminator_optimizer.build(discriminator.trainable_variables)
        self._compiled = tf.function(self._step, jit_compile=jit_compile, reduce_retracing=True)

    def __call__(self, real_batches, step: int):
        """``real_batches``: (d_steps, batch, H, W, C), uint8 pixels or floats in [-1, 1].

        Returns the (D loss, G loss) tensors of the last updates."""
        tf = tensorflow()
        return self._compiled(tf.convert_to_tensor(real_batches), tf.constant(step, tf.int64))

    def _noise(self, step, draw: int):
        tf = tensorflow()
        key = tf.stack([tf.constant(self.seed, tf.int64), step * (self.d_steps + 1) + draw])
        return tf.random.stateless_normal((self.batch_size, self.latent_dim), seed=key)

    def _step(self, real_batches, step):
        tf = tensorflow()
        generator, discriminator = self.generator, self.discriminator
        if real_batches.dtype == tf.uint8:
            # pixels are scaled here, on the device, so the host moves bytes, not floats
            real_batches = tf.cast(real_batches, tf.float32) * (2.0 / 255.0) - 1.0
        else:
            real_batches = tf.cast(real_batches, tf.float32)
        for draw in range(self.d_steps):
            fake = generator(self._noise(step, draw), training=True)
            with tf.GradientTape() as tape:
                real_logits = discriminator(real_batches[draw], training=True)
                fake_logits = discriminator(fake, training=True)
                discriminator_loss = self.loss.discriminator_loss(real_logits, fake_logits)
            gradients = tape.gradient(discriminator_loss, discriminator.trainable_variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))

        with tf.GradientTape() as tape:
            fake = generator(self._noise(step, self.d_steps), training=True)
            generator_loss = self.loss.generator_loss(discriminator(fake, training=True))
        gradients = tape.gradient(generator_loss, generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        return discriminator_loss, generator_loss
