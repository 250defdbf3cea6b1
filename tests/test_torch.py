"""pcmspice.torch: the torch layers reproduce `pcmspice train`, round-trip their state, convert models."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from pcmspice.core.errors import ConfigError  # noqa: E402
from pcmspice.core.network import parse_network  # noqa: E402
from pcmspice.torch import AnalogLinear, AnalogSGD, convert_to_analog  # noqa: E402
from pcmspice.train import TrainConfig, load_dataset, train  # noqa: E402
from pcmspice.train.config import default_w_max  # noqa: E402
from pcmspice.train.loop import prepare_data, resolve_luts  # noqa: E402
from pcmspice.train.network import init_weights  # noqa: E402

# transfers every 300 examples (polarity inversion with them), leakage on its default clock
CFG = TrainConfig(dataset="digits", network="64-16-10", epochs=2, seed=3, max_train=600, max_test=200)
CFG = CFG.replace(array=CFG.array.replace(transfer_every=300))


def _torch_twin(cfg: TrainConfig, luts):
    """The analog network of `pcmspice train` built from the torch layers: the same initial weights,
    w_max and array seeds (as pcmspice.train.loop.train and build_network draw them)."""
    sizes = parse_network(cfg.network)
    _, ss_init = np.random.SeedSequence([cfg.seed, 0]).spawn(2)
    w0 = init_weights(sizes, np.random.default_rng(ss_init))
    seeds = np.random.SeedSequence([cfg.seed, 1]).spawn(len(w0))
    w_max = default_w_max(sizes)
    layers = []
    for k, w in enumerate(w0):
        layers.append(AnalogLinear(sizes[k], sizes[k + 1], True, luts, cfg.array.replace(w_max=w_max[k]),
                                   seed=int(seeds[k].generate_state(1)[0]), weights=w))
        layers.append(nn.ReLU())
    return nn.Sequential(*layers[:-1])


def _accuracy(model, x, y, chunk=5000):
    hits = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            hits += int((model(torch.from_numpy(x[s:s + chunk])).argmax(1).numpy() == y[s:s + chunk]).sum())
    return hits / x.shape[0]


def _epoch(model, opt, ds, order):
    for i in order:
        out = model(torch.from_numpy(ds.x_train[i:i + 1]))
        loss = F.cross_entropy(out, torch.tensor([int(ds.y_train[i])]))
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.fixture(scope="module")
def luts():
    return resolve_luts(None)


def test_a_torch_loop_reproduces_pcmspice_train(luts):
    """Bit for bit: the same float64 reads and the same array calls in the same order per array.  The
    loss gradient comes from torch's softmax (an ulp from numpy's at most); the weights are sums of LUT
    steps counted by integer pulses, and an ulp changes a pulse count only when the request lies within an
    ulp of a rounding boundary, so the weights and accuracies still match exactly."""
    res = train(CFG, luts, baseline=False)
    ds = prepare_data(CFG, load_dataset(CFG.dataset))
    model = _torch_twin(CFG, luts)
    opt = AnalogSGD(model.parameters(), lr=CFG.learning_rate)
    rng_order = np.random.default_rng(np.random.SeedSequence([CFG.seed, 0]).spawn(2)[0])
    orders = [rng_order.permutation(ds.y_train.size) for _ in range(CFG.epochs)]
    history = []
    for order in orders:
        _epoch(model, opt, ds, order)
        history.append((_accuracy(model, ds.x_train, ds.y_train), _accuracy(model, ds.x_test, ds.y_test)))
    want = [(h["train_accuracy"], h["test_accuracy"]) for h in res.analog.history]
    assert history == want
    arrays = [m.array for m in model if isinstance(m, AnalogLinear)]
    assert arrays[0].counters["transfers"] == 4 and arrays[0].polarity == 1   # 1200 examples / 300
    for arr, ref in zip(arrays, res.analog.network.layers):
        assert np.array_equal(arr.weights(), ref.weights())
        assert arr.counters == ref.counters and arr.time_seconds == ref.time_seconds
    assert history[-1][0] > 0.15   # above chance (0.1); transfers every 300 examples cost accuracy here


def test_state_dict_round_trips_and_training_goes_on_identically(luts, tmp_path):
    ds = prepare_data(CFG, load_dataset(CFG.dataset))
    order = np.arange(400)

    def fresh(seed=3):
        return _torch_twin(CFG.replace(seed=seed), luts)

    straight = fresh()
    opt = AnalogSGD(straight.parameters(), lr=0.01)
    _epoch(straight, opt, ds, order)

    first = fresh()
    _epoch(first, AnalogSGD(first.parameters(), lr=0.01), ds, order[:250])   # a transfer at 300 comes after
    torch.save(first.state_dict(), tmp_path / "m.pt")
    second = fresh(seed=11)   # other seeds: the state brings its own
    second.load_state_dict(torch.load(tmp_path / "m.pt", weights_only=True))
    for a, b in zip(first, second):
        if isinstance(a, AnalogLinear):
            sa, sb = a.array.state(), b.array.state()
            assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)
    _epoch(second, AnalogSGD(second.parameters(), lr=0.01), ds, order[250:])
    for a, b in zip(straight, second):
        if isinstance(a, AnalogLinear):
            assert np.array_equal(a.array.weights(), b.array.weights())
            assert a.array.counters == b.array.counters and a.array.examples_seen == 400
            assert a.array.polarity == b.array.polarity == -1
            assert a.array._rng_noise.bit_generator.state == b.array._rng_noise.bit_generator.state


def test_a_state_of_another_shape_is_refused(luts):
    st = AnalogLinear(8, 4, luts=luts).state_dict()
    with pytest.raises(ConfigError, match=r"AnalogLinear\(8, 4\).*build the layer with that shape"):
        AnalogLinear(8, 5, luts=luts).load_state_dict(st)


def test_a_state_of_the_earlier_format_is_refused_by_name(luts):
    """AnalogLinear states that stored the array's private attributes (format 1) are refused in one line."""
    st = AnalogLinear(8, 4, luts=luts).state_dict()
    st["_extra_state"] = dict(st["_extra_state"], schema="pcmspice-torch-analog-linear-1")
    with pytest.raises(ConfigError, match=r"AnalogLinear\(8, 4\): the state is of format "
                                          r"'pcmspice-torch-analog-linear-1', not this pcmspice's "
                                          r"'pcmspice-torch-analog-linear-2'; refusing it"):
        AnalogLinear(8, 4, luts=luts).load_state_dict(st)


class _SmallCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(4 * 6 * 6, 12), nn.ReLU(), nn.Linear(12, 10))

    def forward(self, x):
        return self.head(F.relu(self.conv(x)))


def test_convert_to_analog_on_a_small_cnn_trains_conv_in_float_and_fc_in_analog(luts):
    torch.manual_seed(0)
    model = _SmallCnn()
    w_fc = model.head[1].weight.detach().clone()
    convert_to_analog(model, luts, seed=1)
    fc1, fc2 = model.head[1], model.head[3]
    assert isinstance(fc1, AnalogLinear) and isinstance(fc2, AnalogLinear)
    # programmed with the float weights (closed-loop PCM programming to a tolerance, read noise, drift: the
    # small weights of a fresh nn.Linear, |w| < 0.09, come back correlated, not exact; unrelated: ~0)
    assert np.corrcoef(fc1.weight.flatten().numpy(), w_fc.flatten().numpy())[0, 1] > 0.5
    assert fc1.array.config.w_max == pytest.approx(10 / 145 ** 0.5)
    assert fc2.array.config.w_max == pytest.approx(min(2.0, 20 / 13 ** 0.5))
    ds = load_dataset("digits")
    x = torch.from_numpy(ds.x_train[:300].reshape(-1, 1, 8, 8)).float()
    y = torch.from_numpy(ds.y_train[:300])
    opt = AnalogSGD(model.parameters(), lr=0.05)
    conv0, fc0 = model.conv.weight.detach().clone(), fc2.weight.clone()
    losses = []
    for _ in range(3):
        total = 0.0
        for i in range(300):
            loss = F.cross_entropy(model(x[i:i + 1]), y[i:i + 1])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach())
        losses.append(total / 300)
    assert not torch.equal(model.conv.weight, conv0)            # the float conv trained by plain SGD
    assert not torch.equal(fc2.weight, fc0) and fc2.array.counters["pulses_up"] > 0
    assert losses[-1] < 0.7 * losses[0]
    assert model(x[:5]).dtype == torch.float32


def test_minibatch_is_one_quantized_update_per_batch(luts):
    layer = AnalogLinear(6, 3, luts=luts, seed=2)
    x = torch.rand(8, 6, dtype=torch.float64)
    F.mse_loss(layer(x), torch.zeros(8, 3, dtype=torch.float64)).backward()
    assert len(layer._pending) == 1 and layer._pending[0][0].shape == (8, 7)
    AnalogSGD(layer.parameters(), lr=0.5).step()
    assert layer.array.examples_seen == 8 and not layer._pending


@pytest.mark.parametrize("lead", [(), (1,), (4,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_any_input_shape_and_dtype_reads_the_arrays_weights(luts, lead, dtype):
    """Without read noise the layer's output is W [x, 1] and its input gradient W^T d minus the bias row,
    computed here from the array's weight matrix, in the input's shape and dtype."""
    from pcmspice.array.config import ArrayConfig
    layer = AnalogLinear(6, 3, luts=luts, config=ArrayConfig(w_max=1.0, read_noise=False), seed=4)
    w = layer.array.weights()
    x = torch.rand(*lead, 6, dtype=torch.float64).to(dtype).requires_grad_()
    d = torch.rand(*lead, 3, dtype=torch.float64).to(dtype)
    y = layer(x)
    y.backward(d)
    xs = x.detach().double().numpy().reshape(-1, 6)
    want_y = (np.hstack([xs, np.ones((xs.shape[0], 1))]) @ w.T).reshape(*lead, 3)
    want_g = (d.double().numpy().reshape(-1, 3) @ w[:, :6]).reshape(*lead, 6)
    assert y.shape == (*lead, 3) and y.dtype == dtype and x.grad.shape == x.shape and x.grad.dtype == dtype
    tol = {torch.float64: 1e-6, torch.float32: 1e-6, torch.bfloat16: 1e-2}[dtype]   # the array reads in float32
    np.testing.assert_allclose(y.detach().double().numpy(), want_y, rtol=tol, atol=tol)
    np.testing.assert_allclose(x.grad.double().numpy(), want_g, rtol=tol, atol=tol)
    assert len(layer._pending) == 1 and layer._pending[0][0].shape[-1] == 7


def test_bad_input_and_weights_are_one_line_errors(luts):
    layer = AnalogLinear(6, 3, luts=luts)
    with pytest.raises(ConfigError, match=r"got an input with 5 features.*expected 6"):
        layer(torch.zeros(1, 5))
    with pytest.raises(ConfigError, match=r"initial weights of shape \(3, 4\).*expected \(3, 7\)"):
        AnalogLinear(6, 3, luts=luts, weights=np.zeros((3, 4)))
    with pytest.raises(ConfigError, match="no nn.Linear"):
        convert_to_analog(nn.ReLU(), luts)
