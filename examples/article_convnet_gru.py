"""The keras-video-generators article: VideoFrameGenerator → TimeDistributed ConvNet → GRU → dense net,
then the MobileNet variant (last 9 layers trainable, SGD). Only the import line differs from the
article, plus what Keras 3 removed (ImageDataGenerator → vidseq's clip augmentation; fit_generator → fit;
checkpoints end in .keras).

    python examples/article_convnet_gru.py [DATA] [--quick]
"""

import os
import tempfile

import keras
from _common import parse
from keras.layers import (
    GRU,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    GlobalMaxPool2D,
    MaxPool2D,
    TimeDistributed,
)

from vidseq.compat.keras_video import (
    VideoFrameGenerator,
)  # was: from keras_video import VideoFrameGenerator

args = parse(__doc__.split("\n\n")[0])
classes = sorted(os.listdir(args.data))
SIZE = (32, 32) if args.quick else (112, 112)
CHANNELS = 3
NBFRAME = 5
BS = 8
glob_pattern = os.path.join(args.data, "{classname}", "*.mp4")
train = VideoFrameGenerator(
    classes=classes,
    glob_pattern=glob_pattern,
    nb_frames=NBFRAME,
    split=0.33,
    shuffle=True,
    batch_size=BS,
    target_shape=SIZE,
    nb_channel=CHANNELS,
    transformation="no-flip",
    use_frame_cache=True,
)
valid = train.get_validation_generator()


def build_convnet(shape=(112, 112, 3), width=1.0):
    momentum = 0.9
    model = keras.Sequential([keras.Input(shape)])
    for i, filters in enumerate((64, 128, 256, 512)):
        model.add(Conv2D(int(filters * width), (3, 3), padding="same", activation="relu"))
        model.add(Conv2D(int(filters * width), (3, 3), padding="same", activation="relu"))
        model.add(BatchNormalization(momentum=momentum))
        if i < 3:
            model.add(MaxPool2D())
    model.add(GlobalMaxPool2D())
    return model


def build_mobilenet(shape=(224, 224, 3)):
    model = keras.applications.MobileNet(include_top=False, input_shape=shape, weights=None)
    for layer in model.layers[:-9]:
        layer.trainable = False
    return keras.Sequential([model, GlobalMaxPool2D()])


def action_model(convnet, shape=(5, 112, 112, 3), nbout=3):
    model = keras.Sequential([keras.Input(shape), TimeDistributed(convnet), GRU(64)])
    for units in (1024, 512, 128):
        model.add(Dense(units, activation="relu"))
        model.add(Dropout(0.5))
    model.add(Dense(64, activation="relu"))
    model.add(Dense(nbout, activation="softmax"))
    return model


INSHAPE = (NBFRAME,) + SIZE + (CHANNELS,)
checkpoints = tempfile.mkdtemp(prefix="chkp-")
for name, convnet, optimizer in (
    (
        "convnet",
        build_convnet(INSHAPE[1:], width=0.25 if args.quick else 1.0),
        keras.optimizers.Adam(0.001),
    ),
    (
        "mobilenet",
        build_mobilenet(INSHAPE[1:]),
        keras.optimizers.SGD(learning_rate=0.001, momentum=0.9),
    ),
):
    model = action_model(convnet, INSHAPE, len(classes))
    model.compile(optimizer, "categorical_crossentropy", metrics=["acc"])
    callbacks = [
        keras.callbacks.ReduceLROnPlateau(verbose=1),
        keras.callbacks.ModelCheckpoint(
            os.path.join(checkpoints, name + ".{epoch:02d}-{val_loss:.2f}.keras"), verbose=1
        ),
    ]
    model.fit(train, validation_data=valid, verbose=1, epochs=args.epochs, callbacks=callbacks)
