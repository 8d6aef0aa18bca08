"""The named models: the three seed architectures, their MobileNet variants and the single-frame baseline."""

from __future__ import annotations

from vidseq.models.registry import Spec, register

ARTICLE_HEAD = (1024, 512, 128, 64)

register("vgg16-lstm", Spec(
    backbone="vgg16", temporal="lstm", units=256, head=(1024,), dropout=0.0, optimizer="nadam",
    learning_rate=0.002, backbone_options={"weights": "imagenet", "trainable": False},
    description="Keras-docs seed: frozen VGG16 + GlobalAveragePooling2D, LSTM(256), Dense(1024), Nadam(0.002)",
))
register("lrcn", Spec(
    backbone="lrcn", temporal="lstm", units=512, head=(), dropout=0.0, feature_dropout=0.7,
    temporal_dropout=0.5, optimizer="adam", learning_rate=1e-4,
    description="LRCN article: 8-conv stack, Flatten, Dropout 0.7, LSTM(512, dropout 0.5)",
))
register("convnet-gru", Spec(
    backbone="convnet", temporal="gru", units=64, head=ARTICLE_HEAD,
    description="keras-video-generators article: 4×2 conv + BN, GlobalMaxPool, GRU(64), Dense 1024/512/128/64",
))
register("mobilenet-gru", Spec(
    backbone="mobilenet", temporal="gru", units=64, head=ARTICLE_HEAD, optimizer="sgd", learning_rate=1e-3,
    backbone_options={"weights": "imagenet", "trainable_layers": 9, "version": 1},
    description="article variant: MobileNet v1, last 9 layers trainable, GlobalMaxPool, GRU(64), SGD",
))
register("mobilenetv2-gru", Spec(
    backbone="mobilenet", temporal="gru", units=64, head=ARTICLE_HEAD, optimizer="sgd", learning_rate=1e-3,
    backbone_options={"weights": "imagenet", "trainable_layers": 9, "version": 2},
    description="as mobilenet-gru with MobileNetV2",
))
register("single-frame", Spec(
    backbone="convnet", temporal="mean", head=ARTICLE_HEAD,
    description="baseline: convnet-gru's CNN and head on each frame, softmax averaged over frames",
))
register("two-stream", Spec(
    backbone="convnet", temporal="gru", units=64, head=ARTICLE_HEAD, streams=("rgb", "flow"), fusion="late",
    description="RGB and optical-flow branches (convnet + GRU each), late fusion (fusion='concat' joins features)",
))
