"""The named models: the seed architectures, their MobileNet variants, stronger temporal heads, baselines
and ImageNet EfficientNet-Lite0 entries.

Any temporal head fits any per-frame backbone: `build_model("vgg16-lstm", ..., temporal="transformer")`.
"""

from __future__ import annotations

from dataclasses import replace

from vidseq.models.registry import Spec, get_spec, register

ARTICLE_HEAD = (1024, 512, 128, 64)

register(
    "vgg16-lstm",
    Spec(
        backbone="vgg16",
        temporal="lstm",
        units=256,
        head=(1024,),
        dropout=0.0,
        optimizer="nadam",
        learning_rate=0.002,
        backbone_options={"weights": "imagenet", "trainable": False},
        description="Keras-docs seed: frozen VGG16 + GlobalAveragePooling2D, LSTM(256), Dense(1024), Nadam(0.002)",
    ),
)
register(
    "lrcn",
    Spec(
        backbone="lrcn",
        temporal="lstm",
        units=512,
        head=(),
        dropout=0.0,
        feature_dropout=0.7,
        temporal_dropout=0.5,
        optimizer="adam",
        learning_rate=1e-4,
        description="LRCN article: 8-conv stack, Flatten, Dropout 0.7, LSTM(512, dropout 0.5)",
    ),
)
register(
    "convnet-gru",
    Spec(
        backbone="convnet",
        temporal="gru",
        units=64,
        head=ARTICLE_HEAD,
        description="keras-video-generators article: 4×2 conv + BN, GlobalMaxPool, GRU(64), Dense 1024/512/128/64",
    ),
)
register(
    "mobilenet-gru",
    Spec(
        backbone="mobilenet",
        temporal="gru",
        units=64,
        head=ARTICLE_HEAD,
        optimizer="sgd",
        learning_rate=1e-3,
        backbone_options={"weights": "imagenet", "trainable_layers": 9, "version": 1},
        description="article variant: MobileNet v1, last 9 layers trainable, GlobalMaxPool, GRU(64), SGD",
    ),
)
register(
    "mobilenetv2-gru",
    replace(
        get_spec("mobilenet-gru"),
        backbone_options={"weights": "imagenet", "trainable_layers": 9, "version": 2},
        description="as mobilenet-gru with MobileNetV2",
    ),
)
register(
    "single-frame",
    Spec(
        backbone="convnet",
        temporal="mean",
        head=ARTICLE_HEAD,
        description="baseline: convnet-gru's CNN and head on each frame, softmax averaged over frames",
    ),
)
register(
    "two-stream",
    Spec(
        backbone="convnet",
        temporal="gru",
        units=64,
        head=ARTICLE_HEAD,
        streams=("rgb", "flow"),
        fusion="late",
        description="RGB and optical-flow branches (convnet + GRU each), late fusion (fusion='concat' joins features)",
    ),
)
register(
    "convnet-bigru",
    Spec(
        backbone="convnet",
        temporal="bigru",
        units=64,
        head=ARTICLE_HEAD,
        description="convnet-gru with a bidirectional GRU",
    ),
)
register(
    "convnet-attention",
    Spec(
        backbone="convnet",
        temporal="attention",
        units=64,
        head=(128,),
        description="convnet features, attention pooling over frames (a scored, softmax-weighted mean), Dense 128",
    ),
)
register(
    "convnet-transformer",
    Spec(
        backbone="convnet",
        temporal="transformer",
        units=64,
        head=(128,),
        temporal_dropout=0.1,
        description="convnet features, 2-block Transformer encoder (4 heads, learned positions, class token), "
        "Dense 128",
    ),
)
register(
    "tsn",
    Spec(
        backbone="convnet",
        temporal="avgpool",
        head=(128,),
        description="TSN-style consensus: convnet features averaged over the sampled segments, Dense 128",
    ),
)
register(
    "c3d",
    Spec(
        backbone="c3d",
        temporal="none",
        head=(128,),
        description="baseline: small C3D-style 3D CNN (4 blocks of 3×3×3 conv + BN), Dense 128",
    ),
)
register(
    "r2plus1d",
    Spec(
        backbone="c3d",
        temporal="none",
        head=(128,),
        backbone_options={"factorised": True},
        description="baseline: c3d with R(2+1)D factorised convs (1×3×3 spatial, then 3×1×1 temporal)",
    ),
)
register(
    "convlstm",
    Spec(
        backbone="convlstm",
        temporal="none",
        head=(128,),
        description="baseline: strided conv, then two ConvLSTM2D layers + BN, global max pool, Dense 128",
    ),
)
register(
    "efficientnet-lite0-gru",
    Spec(
        backbone="efficientnet-lite0",
        temporal="gru",
        units=64,
        head=(128,),
        optimizer="adam",
        learning_rate=1e-3,
        backbone_options={"weights": "imagenet", "trainable_blocks": 0},
        size="160",
        description="frozen ImageNet EfficientNet-Lite0 (weights from an installed package, offline), "
        "average-pooled 1280 features, GRU(64), Dense 128, Adam; trains on cached features",
    ),
)
register(
    "efficientnet-lite0-gru-ft",
    replace(
        get_spec("efficientnet-lite0-gru"),
        learning_rate=1e-4,
        backbone_options={"weights": "imagenet", "trainable_blocks": 2},
        size="112",
        description="efficientnet-lite0-gru with the last 2 MBConv blocks and the head conv trainable (BatchNorm "
        "frozen), Adam 1e-4; meant for training with augmentation",
    ),
)
register(
    "efficientnet-lite0-motion",
    Spec(
        backbone="efficientnet-lite0",
        temporal="motion",
        head=(128,),
        dropout_last=True,
        backbone_options={"weights": "imagenet", "trainable_blocks": 0},
        size="160",
        description="frozen ImageNet EfficientNet-Lite0, mean features + mean absolute frame-to-frame "
        "change, Dense 128 + dropout 0.5, Adam; trains on cached features (the video default)",
    ),
)
