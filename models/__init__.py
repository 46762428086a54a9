"""Networks behind one registry (``beamsim.models``).

>>> from beamsim.models import get_model
>>> model = get_model("beamcnn", in_channels=1, num_classes=64, image_size=8)

Registered names: ``beamcnn`` (the three-layer beam CNN), ``beammlp`` (an MLP for vector-like
beam inputs such as a few wide-beam RSRPs), ``beamgru`` (a GRU over a history of beam maps,
BM-Case2), ``convnet3`` / ``convnet5``
(ConvNetD3/D5), ``alexnet``, ``vgg11``, ``resnet18`` (the instance-norm variants of the
dataset-distillation literature). Every model maps [batch, C, H, W] float32 to logits
[batch, num_classes]; all of them accept 8 x 8 beam maps and 32 x 32 images.

:func:`train_model` and :func:`predict` (:mod:`beamsim.models.training`) are the one training
loop that evaluation, expert trajectories and validation share.
"""

from beamsim.models.registry import ModelBuilder, get_model, list_models, register_model, reset_parameters

# Importing the modules registers their models.
from beamsim.models.beamcnn import BeamCNN  # noqa: E402
from beamsim.models.beammlp import BeamMLP  # noqa: E402
from beamsim.models.beamgru import BeamGRU  # noqa: E402
from beamsim.models.convnet import ConvNet  # noqa: E402
from beamsim.models.alexnet import AlexNet  # noqa: E402
from beamsim.models.vgg import VGG  # noqa: E402
from beamsim.models.resnet import ResNet  # noqa: E402
from beamsim.models.training import predict, train_model  # noqa: E402

__all__ = ["register_model", "get_model", "list_models", "reset_parameters", "ModelBuilder",
           "BeamCNN", "BeamMLP", "BeamGRU", "ConvNet", "AlexNet", "VGG", "ResNet", "train_model", "predict"]
