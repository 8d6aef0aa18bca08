"""The Keras-docs seed: a frozen VGG16 on every frame (TimeDistributed), an LSTM, a dense head, Nadam.

    python examples/vgg16_lstm.py [DATA] [--quick] [--weights imagenet]

`--weights imagenet` needs the VGG16 file in ~/.keras/models (downloaded on a connected machine).
"""

import keras
from _common import datasets, parse
from keras import layers

import vidseq

args = parse(__doc__.split("\n\n")[0])
frames, size = (4, 32) if args.quick else (8, 64)
catalog, train_ds, val_ds = datasets(args.data, frames, size)

video = keras.Input(shape=(frames, size, size, 3))
cnn_base = keras.applications.VGG16(input_shape=(size, size, 3), weights=None, include_top=False)
cnn = keras.Model(cnn_base.input, layers.GlobalAveragePooling2D()(cnn_base.output))
cnn.trainable = (
    False  # the seed freezes the ImageNet features (without weights it trains nothing, as here)
)
encoded_frames = layers.TimeDistributed(cnn)(video)
encoded_sequence = layers.LSTM(256)(encoded_frames)
hidden_layer = layers.Dense(1024, activation="relu")(encoded_sequence)
outputs = layers.Dense(len(catalog.classes), activation="softmax")(hidden_layer)
model = keras.Model(video, outputs)
optimizer = keras.optimizers.Nadam(learning_rate=0.002, beta_1=0.9, beta_2=0.999, epsilon=1e-08)
model.compile(
    loss="categorical_crossentropy", optimizer=optimizer, metrics=["categorical_accuracy"]
)
model.fit(train_ds, validation_data=val_ds, epochs=args.epochs)

# The same model from the zoo, with the weights option: vidseq.build_model("vgg16-lstm", ..., weights="imagenet")
print(
    "zoo twin:",
    vidseq.build_model(
        "vgg16-lstm", (frames, size, size, 3), len(catalog.classes), weights=None
    ).name,
)
