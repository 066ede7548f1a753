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

# Separate random streams per draw, keyed with the step: noise, labels, penalty points.
NOISE, LABELS, INTERPOLATION = 0, 1, 2
# Keys are spaced by 4, one spare: changing this changes every draw, and with
# it every measured figure tied to a seed.
STREAMS = 4


def penalty_value(penalty, discriminator, real, fake, alpha=None):
    """``penalty`` at its points: real images, or ``alpha * real + (1 - alpha) * fake``.

    Taking D's gradient with respect to its input is the backend-specific
    part, so it lives here; the penalty's maths is keras.ops in its plugin.
    """
    tf = tensorflow()
    real = tf.convert_to_tensor(real, tf.float32)
    points = real if penalty.points == "real" else alpha * real + (1.0 - alpha) * tf.convert_to_tensor(fake, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(points)
        outputs = discriminator(points, training=True)
    return tf.cast(penalty.from_gradients(tape.gradient(outputs, points)), tf.float32)


class AdversarialStep:
    def __init__(
        self,
        generator,
        discriminator,
        loss,
        generator_optimizer,
        discriminator_optimizer,
        *,
        batch_size: int,
        latent_dim: int,
        d_steps: int,
        seed: int,
        jit_compile: bool = False,
        penalties=(),
        label_smoothing: float = 0.0,
        label_noise: float = 0.0,
        ema_generator=None,
        ema_decay: float = 0.0,
    ):
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
        self.penalties = list(penalties)
        self.label_smoothing = label_smoothing
        self.label_noise = label_noise
        self.ema_generator = ema_generator
        self.ema_decay = ema_decay
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

    def _key(self, step, draw: int, stream: int):
        tf = tensorflow()
        counter = (step * (self.d_steps + 1) + draw) * STREAMS + stream
        return tf.stack([tf.constant(self.seed, tf.int64), counter])

    def _noise(self, step, draw: int):
        tf = tensorflow()
        return tf.random.stateless_normal((self.batch_size, self.latent_dim), seed=self._key(step, draw, NOISE))

    def _targets(self, step, draw: int):
        """D's targets: 1 for real (1 - smoothing), 0 for fake, each flipped with probability label_noise."""
        tf = tensorflow()
        real = tf.fill((self.batch_size, 1), 1.0 - self.label_smoothing)
        fake = tf.zeros((self.batch_size, 1))
        if self.label_noise:
            flips = (
                tf.random.stateless_uniform((2, self.batch_size, 1), seed=self._key(step, draw, LABELS))
                < self.label_noise
            )
            real, fake = tf.where(flips[0], 0.0, real), tf.where(flips[1], 1.0, fake)
        return real, fake

    def _penalty(self, penalty, real, fake, step, draw: int):
        tf = tensorflow()

        def value():
            shape = (self.batch_size,) + (1,) * (len(real.shape) - 1)
            alpha = tf.random.stateless_uniform(shape, seed=self._key(step, draw, INTERPOLATION))
            return penalty_value(penalty, self.discriminator, real, fake, alpha) * float(penalty.every)

        every = getattr(penalty, "every", 1)
        if every <= 1:
            return value()
        # lazy: only every N-th discriminator update pays for the penalty
        update = step * self.d_steps + draw
        return tf.cond(update % every == 0, value, lambda: tf.constant(0.0))

    def _step(self, real_batches, step):
        tf = tensorflow()
        generator, discriminator = self.generator, self.discriminator
        if real_batches.dtype == tf.uint8:
            # pixels are scaled here, on the device, so the host moves bytes, not floats
            real_batches = tf.cast(real_batches, tf.float32) * (2.0 / 255.0) - 1.0
        else:
            real_batches = tf.cast(real_batches, tf.float32)
        labelled = self.label_smoothing or self.label_noise
        for draw in range(self.d_steps):
            real = real_batches[draw]
            fake = generator(self._noise(step, draw), training=True)
            with tf.GradientTape() as tape:
                real_logits = discriminator(real, training=True)
                fake_logits = discriminator(fake, training=True)
                if labelled:
                    discriminator_loss = self.loss.discriminator_loss(
                        real_logits, fake_logits, *self._targets(step, draw)
                    )
                else:
                    discriminator_loss = self.loss.discriminator_loss(real_logits, fake_logits)
                for penalty in self.penalties:
                    discriminator_loss += self._penalty(penalty, real, fake, step, draw)
            gradients = tape.gradient(discriminator_loss, discriminator.trainable_variables)
            self.discriminator_optimizer.apply_gradients(zip(gradients, discriminator.trainable_variables))
            if hasattr(self.loss, "constrain_discriminator"):
                self.loss.constrain_discriminator(discriminator)

        with tf.GradientTape() as tape:
            fake = generator(self._noise(step, self.d_steps), training=True)
            generator_loss = self.loss.generator_loss(discriminator(fake, training=True))
        gradients = tape.gradient(generator_loss, generator.trainable_variables)
        self.generator_optimizer.apply_gradients(zip(gradients, generator.trainable_variables))
        if self.ema_generator is not None:
            for average, current in zip(self.ema_generator.weights, generator.weights):
                if "float" in str(average.dtype):
                    average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * current)
                else:  # counters and seeds are copied, not averaged
                    average.assign(current)
        return discriminator_loss, generator_loss
