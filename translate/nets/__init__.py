"""The backbone library: generators and discriminators shared by every recipe.

``architectures`` (the torch-free table of every network name and its rules, as timm's
registry), ``build`` (:func:`~translate.nets.build.build_generator` and friends: a network from a
card's ``generator`` field), and one module per family: ``resnet``, ``unet``, ``discriminators``,
``srresnet``, ``derain``, ``context_encoder``, ``vgg`` (perceptual loss), ``layers`` (norms,
initialisation).

May import the ground floor only. This ``__init__`` imports nothing, so
:mod:`translate.nets.architectures` stays torch-free.
"""
