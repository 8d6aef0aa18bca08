"""The LRCN article's Sequential model: a conv stack on every frame, Flatten, Dropout, LSTM(512).

python examples/lrcn.py [DATA] [--quick]
"""

import keras
from _common import datasets, parse
from keras import layers

args = parse(__doc__.split("\n\n")[0])
frames, size = (4, 32) if args.quick else (8, 64)
catalog, train_ds, val_ds = datasets(args.data, frames, size)

td = layers.TimeDistributed
model = keras.Sequential(
    [
        keras.Input((frames, size, size, 3)),
        td(layers.Conv2D(32, 7, strides=2, padding="same", activation="relu")),
        td(layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer="he_normal")),
        td(layers.MaxPooling2D()),
    ]
)
for filters in (64, 128, 256):
    model.add(td(layers.Conv2D(filters, 3, padding="same", activation="relu")))
    model.add(td(layers.Conv2D(filters, 3, padding="same", activation="relu")))
    model.add(td(layers.MaxPooling2D()))
model.add(td(layers.Flatten()))
model.add(layers.Dropout(0.7))
model.add(layers.LSTM(512, dropout=0.5))
model.add(layers.Dense(len(catalog.classes), activation="softmax"))
model.compile(
    loss="categorical_crossentropy",
    optimizer=keras.optimizers.Adam(1e-4),
    metrics=["categorical_accuracy"],
)
model.fit(train_ds, validation_data=val_ds, epochs=args.epochs)
