"""The torch layer: PyTorch modules whose weights live on the SPICE-characterized arrays.

:class:`AnalogLinear` is an ``nn.Linear`` on an :class:`~pcmspice.array.crossbar.AnalogArray` (forward
read with read noise, the transposed read for the input gradient); :class:`AnalogSGD` applies the chip's
pulsed update, transfers and polarity inversion on schedule to every analog layer and plain SGD to the
rest; :func:`convert_to_analog` replaces the ``nn.Linear`` layers of any model.  ``state_dict()`` carries
the arrays' whole state.  :mod:`pcmspice.torch.features` trains a small float CNN and writes its
penultimate features for ``pcmspice train --dataset features:FILE.npz`` (the paper's transfer learning).

Needs the optional extra ``pcmspice[torch]`` (CPU torch).  Always imported by its full name (the package
``torch`` and this ``pcmspice.torch`` never clash: every import is absolute).

May import: :mod:`pcmspice.core`, :mod:`pcmspice.lut`, :mod:`pcmspice.array` and :mod:`pcmspice.train`
(never spice, circuits, testbenches or characterize), and the ``torch`` package.
"""
from pcmspice.torch.layers import AnalogLinear, analog_layers, convert_to_analog
from pcmspice.torch.optim import AnalogSGD

__all__ = ["AnalogLinear", "AnalogSGD", "analog_layers", "convert_to_analog"]
