"""An R x C array of full unit cells (2 PCM + 3T1C) in SPICE, driven from Python.

This is the "chip" of the co-simulation (:mod:`pcmspice.cosim.run`): every array
operation is an ngspice run, and Python carries the state from one run to
the next (Vc of every storage node, crystalline fraction and drift clock of
every PCM).

Orientation.  Physical row i carries input i, physical column j output j;
the network weight matrix is W[j, i] (n_out = C, n_in = R), as in
:class:`~pcmspice.array.crossbar.AnalogArray`.  Unit cell (i, j) is Monte Carlo cell
k = i * C + j of :func:`pcmspice.circuits.c3t1c.draw_mismatch`; the g_shared reference
of column j is cell R * C + j; G+ and G- of cell k are PCM devices 2k and
2k + 1 of :func:`pcmspice.circuits.pcm.draw_variation`.  The lookup tables of the
co-simulation are built from exactly these draws, so position (i, j) is the
same physical cell in the SPICE array and in the LUT array.

Operations (one or two netlists each, all cells in one netlist):

=====================  ======================================================
``read(direction)``    DC read, ideal drivers: forward drives the rows at the
                       read voltages and holds every column at 0 V (backward:
                       the reverse).  Storage nodes are held at their Vc.
                       Every device branch has an ammeter; G = I / V.
                       ``with_pcm=True`` reads the whole unit cells
                       (``cells/unit_cell.cir.j2`` in
                       ``testbenches/array_read.cir.j2``);
                       otherwise only the 3T1Cs are re-read and the PCM
                       currents of the last full read are reused (the PCM
                       state only changes when it is programmed).
``forward_pwm(x)``     the same array read with inputs as row pulse
                       DURATIONS and the column currents integrated over
                       time (transient; a signed x is read twice, positive
                       and negative part): the independent check of the
                       duration encoding the DC read assumes.
``apply(schedule)``    the update of one example: pulse coincidence in time
                       slots (``testbenches/array_update.cir.j2``), every
                       storage node starting from its carried Vc (.ic).
``idle(seconds)``      the time between examples: the same netlist, no pulses.
``program(...)``       closed-loop PCM programming: partial-SET pulses with a
                       verify read after each, RESET when a device is too high
                       (``pcmspice.circuits.pcm.run_ops``: the PCM compact model and its
                       access transistor).
=====================  ======================================================

What is idealized: row and column drivers are ideal sources (no line
resistance, no IR drop, no sneak paths: with every line driven, cells are
independent); the gate pulses of a cell are per-cell ideal PWL sources that
fire exactly in the slots where its row and column both fire; the g_shared
reference of a column is read on its own line and its current is weighted in
Python by the total input duration sum(x); resetting Vc to v_start after a
transfer is an ideal re-initialisation of the storage node; the PCMs are not
in the update / idle netlists (word lines off: no current, and the model's
crystallisation window is closed at ambient temperature).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from pcmspice.circuits import c3t1c as cellmod
from pcmspice.circuits import pcm as pcmmod
from pcmspice.core.errors import ConfigError
from pcmspice.cosim.cells import ArrayCells
from pcmspice.cosim.coincidence import Schedule
from pcmspice.spice import engine as spice
from pcmspice.spice import netlist as nl

READ_TEMPLATE = "testbenches/array_read.cir.j2"
UPDATE_TEMPLATE = "testbenches/array_update.cir.j2"
TEMPLATES = (READ_TEMPLATE, UPDATE_TEMPLATE)
#: PCM devices per programming netlist: the B-source model's cost per instance is
#: lowest around 25 (measured here: 34 ms per device and SET+read at 25, 75 ms at 50)
PCM_PER_NETLIST = 25


# ---------------------------------------------------------------- results
@dataclass
class Conductances:
    """Conductances (S) measured by one array read: I / V of every device branch."""

    direction: int
    g: np.ndarray        # (R, C) 3T1C read transistors
    g_ref: np.ndarray    # (C,) g_shared references
    g_plus: np.ndarray   # (R, C) G+ (1T1R: PCM + access transistor)
    g_minus: np.ndarray  # (R, C) G-
    column_amperes: dict[str, np.ndarray] = field(default_factory=dict)  # column-source currents (KCL check)


# ---------------------------------------------------------------- the array
class SpiceArray:
    """The SPICE array and its state (see the module docstring).

    ``gain_f`` and ``siemens_per_unit_weight`` turn device conductances into
    network weights exactly as the LUT array does:
    W = [F (G+ - G-) + p (g - g_shared)] / spu.
    """

    def __init__(self, run: cellmod.Run, cells: ArrayCells, gain_f: float, siemens_per_unit_weight: float,
                 x_reset: np.ndarray | float = 0.0):
        self.run = run
        self.cells = cells
        self.F = float(gain_f)
        self.spu = float(siemens_per_unit_weight)
        self.p = cellmod.cell_params(run.tech, run.params)
        self.pp = pcmmod.pcm_params(run.tech, run.params)
        R, C = cells.rows, cells.cols
        self.shape = (R, C)
        self.v_start = float(self.p["v_start_volts"])
        self.vc = np.full((R, C), self.v_start)
        self.vref = np.full(C, self.v_start)
        self.x = np.broadcast_to(np.asarray(x_reset, float), (2 * R * C,)).copy()
        self.t_prog = np.zeros(2 * R * C)
        self.time_seconds = 0.0
        self.polarity = 1
        self._pcm: dict[int, Conductances] = {}
        self.netlist_hashes: dict[str, str] = {}
        self.seconds: dict[str, float] = {}     # wall time per kind of SPICE operation (render + run)
        self.counters = dict(reads=0, pcm_reads=0, update_transients=0, idle_transients=0, pulses=0,
                             pcm_netlists=0, pcm_set_pulses=0, pcm_reset_pulses=0, pcm_not_converged=0)

    # ------------------------------------------------------------ netlist context
    def _cell_ctx(self, with_pcm: bool) -> tuple[list[dict], list[dict]]:
        R, C = self.shape
        mm, var = self.cells.mismatch, self.cells.variation
        cells = []
        for i in range(R):
            for j in range(C):
                k = i * C + j
                d = {key: float(mm[key][k]) for key in cellmod.MISMATCH_KEYS}
                d.update(k=k, i=i, j=j, vc=float(self.vc[i, j]))
                if with_pcm:
                    for tag, dev in (("p", 2 * k), ("m", 2 * k + 1)):
                        for key in pcmmod.VARIATION_KEYS:
                            d[f"{key}_{tag}"] = float(var[key][dev])
                        d[f"x_{tag}"] = float(self.x[dev])
                        d[f"age_{tag}"] = float(max(self.time_seconds - self.t_prog[dev], 0.0))
                cells.append(d)
        refs = []
        for j in range(C):
            k = R * C + j
            refs.append(dict({key: float(mm[key][k]) for key in cellmod.MISMATCH_KEYS}, k=k, j=j,
                             vc=float(self.vref[j])))
        return cells, refs

    def _sim(self, template: str, name: str, **ctx) -> spice.SimResult:
        t0 = time.perf_counter()
        text, _ = self.run.render(template, **ctx)
        res = spice.run(text, name, self.run.engine)
        self.netlist_hashes[name] = res.netlist_hash
        self._tick(name, t0)
        return res

    def _tick(self, name: str, t0: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def render(self, template: str, **ctx) -> str:
        """The netlist text of an operation (for inspection and provenance)."""
        return self.run.render(template, **ctx)[0]

    # ------------------------------------------------------------------ reads
    def read(self, direction: int = 1, with_pcm: bool = False) -> Conductances:
        """Read every device of the array (see the module docstring)."""
        if direction not in (1, -1):
            raise ConfigError(f"read direction must be 1 (forward) or -1 (backward), not {direction}")
        R, C = self.shape
        if not with_pcm and direction not in self._pcm:
            with_pcm = True
        cells, refs = self._cell_ctx(with_pcm)
        res = self._sim(READ_TEMPLATE, "array_read" + ("_pcm" if with_pcm else ""), n_rows=R, n_cols=C,
                        cells=cells, refs=refs, direction=direction, with_pcm=with_pcm)
        self.counters["pcm_reads" if with_pcm else "reads"] += 1
        vg, vp = self.p["v_read_volts"], self.pp["v_read_pcm_volts"]

        def cur(name):
            return float(res[name][0])

        g = np.array([cur(f"i(vag{k})") for k in range(R * C)]).reshape(R, C) * direction / vg
        gref = np.array([cur(f"i(var{j})") for j in range(C)]) * direction / vg
        cols = {"g": np.array([cur(f"i(vcg{j})") for j in range(C)]),
                "ref": np.array([cur(f"i(vcr{j})") for j in range(C)])}
        if with_pcm:
            gp = np.array([cur(f"i(vap{k})") for k in range(R * C)]).reshape(R, C) * direction / vp
            gm = np.array([cur(f"i(vam{k})") for k in range(R * C)]).reshape(R, C) * direction / vp
            cols.update(plus=np.array([cur(f"i(vcp{j})") for j in range(C)]),
                        minus=np.array([cur(f"i(vcm{j})") for j in range(C)]))
            out = Conductances(direction, g, gref, gp, gm, cols)
            self._pcm[direction] = out
        else:
            last = self._pcm[direction]
            out = Conductances(direction, g, gref, last.g_plus, last.g_minus, cols)
        return out

    def read_pcm(self) -> None:
        """Full reads (3T1C + PCM) in both directions: refreshes the PCM currents."""
        self.read(1, with_pcm=True)
        self.read(-1, with_pcm=True)

    def last_full_read(self, direction: int = 1) -> Conductances:
        """The last full read (with the PCMs) in ``direction``."""
        if direction not in self._pcm:
            self.read(direction, with_pcm=True)
        return self._pcm[direction]

    def weights(self, c: Conductances) -> np.ndarray:
        """W (C, R) = [F (G+ - G-) + p (g - g_shared)] / spu from measured conductances."""
        w = self.F * (c.g_plus - c.g_minus) + self.polarity * (c.g - c.g_ref[None, :])
        return (w / self.spu).T

    def forward(self, x: np.ndarray, c: Conductances | None = None) -> np.ndarray:
        """Column outputs y = W x for inputs encoded as read durations x_i t_read."""
        c = c or self.read(1)
        return self.weights(c) @ np.asarray(x, float)

    def backward(self, delta: np.ndarray, c: Conductances | None = None) -> np.ndarray:
        c = c or self.read(-1)
        return self.weights(c).T @ np.asarray(delta, float)

    def forward_pwm(self, x: np.ndarray, t_read_seconds: float = 100e-9, t_edge_seconds: float = 0.02e-9,
                    with_pcm: bool = True) -> np.ndarray:
        """The forward read as the array does it: row i at the read voltage for |x_i| t_read,
        columns at 0 V, every column current integrated over time; a signed x is read
        twice (its positive part, then its negative part) and the charges subtracted.

        Returns y = W x from the column charges: Q / (V t_read) per device line,
        combined as F (Q+ - Q-) + p (Q_g - Q_ref) (the reference line is driven
        for sum(x) t_read).  Independent of the DC branch read: real shared
        column lines, real time encoding, numerically integrated charge.
        """
        x = np.asarray(x, float)
        R, C = self.shape
        if x.shape != (R,) or np.any(np.abs(x) > 1):
            raise ConfigError(f"forward_pwm needs {R} inputs in [-1, 1]")
        y = np.zeros(C)
        for part, sign in ((np.maximum(x, 0.0), 1.0), (np.maximum(-x, 0.0), -1.0)):
            if part.any():
                y += sign * self._pwm_read(part, t_read_seconds, t_edge_seconds, with_pcm)
        return y

    def _pwm_read(self, x: np.ndarray, t_read: float, t_edge: float, with_pcm: bool) -> np.ndarray:
        R, C = self.shape
        cells, refs = self._cell_ctx(with_pcm)
        lead = 2e-9
        t_stop = lead + max(float(x.sum()), 1.0) * t_read + lead

        def pulse(level: float, width: float) -> str:
            if width <= 0:
                return "0"
            pts = [(0.0, 0.0), (lead, 0.0), (lead + t_edge, level), (lead + width, level),
                   (lead + width + t_edge, 0.0)]
            return "PWL(" + " ".join(f"{nl.fmt(t)} {nl.fmt(v)}" for t, v in pts) + ")"

        vg, vp = self.p["v_read_volts"], self.pp["v_read_pcm_volts"]
        rows = [dict(i=i, g=pulse(vg, x[i] * t_read), p=pulse(vp, x[i] * t_read)) for i in range(R)]
        ref_drive = pulse(vg, float(x.sum()) * t_read)
        res = self._sim(READ_TEMPLATE, "array_read_pwm", n_rows=R, n_cols=C, cells=cells, refs=refs, direction=1,
                        with_pcm=with_pcm, pwm=dict(rows=rows, ref=ref_drive, t_stop=t_stop,
                                                    t_max=min(t_read / 20, 1e-9)))
        t = res["time"]

        def charge(name):
            return float(np.trapezoid(res[name], t))

        q_g = np.array([charge(f"i(vcg{j})") for j in range(C)])
        q_r = np.array([charge(f"i(vcr{j})") for j in range(C)])
        w = self.polarity * (q_g - q_r) / vg
        if with_pcm:
            q_p = np.array([charge(f"i(vcp{j})") for j in range(C)])
            q_m = np.array([charge(f"i(vcm{j})") for j in range(C)])
            w = w + self.F * (q_p - q_m) / vp
        return w / (t_read * self.spu)

    # ---------------------------------------------------------------- updates
    def _transient(self, drives: list[tuple[str, str]] | None, t_stop: float, t_max: float, name: str) -> None:
        R, C = self.shape
        cells, refs = self._cell_ctx(False)
        ctx = []
        for c in cells + [dict(r) for r in refs]:
            k = c["k"]
            up, dn = drives[k] if drives is not None and k < R * C else ("", "")
            ctx.append(dict({key: c[key] for key in cellmod.MISMATCH_KEYS}, k=k, vc0=c["vc"], up_drive=up,
                            dn_drive=dn))
        res = self._sim(UPDATE_TEMPLATE, name, cells=ctx, t_step=min(t_max, t_stop / 100), t_stop=t_stop,
                        t_max_step=t_max)
        vc = np.array([float(res[f"v(c{c['k']})"][-1]) for c in ctx])
        self.vc = vc[:R * C].reshape(R, C)
        self.vref = vc[R * C:]
        self.time_seconds += t_stop

    def slot_seconds(self) -> float:
        return float(self.p["t_period_seconds"])

    def apply(self, sched: Schedule) -> None:
        """One example's update: a pulse in every slot where the cell's row and column both
        fire, up or down as polarity x weight direction (the LUT array's convention)."""
        R, C = self.shape
        S = sched.n_slots
        if S == 0:
            return
        p = self.p
        drives: list[tuple[str, str]] = []
        for i in range(R):
            for j in range(C):
                seq = (sched.row_fire[i] & sched.col_fire[j]).astype(np.int64) * int(sched.sign[j, i]) * self.polarity
                up = cellmod._drive(seq, p, p["v_up_on_volts"], p["v_up_off_volts"], +1) if (seq > 0).any() else ""
                dn = cellmod._drive(seq, p, p["v_dn_on_volts"], p["v_dn_off_volts"], -1) if (seq < 0).any() else ""
                drives.append((up, dn))
        # the same largest step as the characterization's pulse transients (cell.pulses / step_map)
        t_max = min(p["t_step_seconds"], 2 * p["t_edge_seconds"])
        self._transient(drives, S * p["t_period_seconds"], t_max, "array_update")
        self.counters["update_transients"] += 1
        self.counters["pulses"] += int(np.abs(sched.counts).sum())

    def idle(self, seconds: float) -> None:
        """Leakage of the idle array for ``seconds`` (one transient, no pulses)."""
        if seconds <= 0:
            return
        self._transient(None, seconds, seconds / 50, "array_idle")
        self.counters["idle_transients"] += 1

    def reset_vc(self) -> None:
        self.vc[...] = self.v_start
        self.vref[...] = self.v_start

    # ---------------------------------------------------------------- PCM programming
    def _ops(self, devices: np.ndarray, ops: list[list[tuple]], mults: np.ndarray | None,
             kicks: np.ndarray | None = None) -> pcmmod.OpsResult:
        t0 = time.perf_counter()
        var = {k: v[devices] for k, v in self.cells.variation.items()}
        age = np.maximum(self.time_seconds - self.t_prog[devices], 0.0)
        r = pcmmod.run_ops(self.run, var, ops, x0=np.clip(self.x[devices], 0.0, 1.0), age0=age,
                           multipliers=mults, kicks=kicks, per_netlist=PCM_PER_NETLIST)
        self.netlist_hashes["pcm_pulses"] = r.netlist_hash
        self.counters["pcm_netlists"] += -(-devices.size // PCM_PER_NETLIST)
        # the state after the last programming operation: x from the programmed (drift-free) G0, and the
        # drift clock restarted at the end of the programming (the read G at the end of the netlist has
        # already drifted for the tens of ns since the last pulse, which with t0 = 100 ns is ~1 %)
        last_prog = max(j for j, op in enumerate(ops[0]) if op[0] != "read")
        self.x[devices] = pcmmod.x_for_g(r.g0_after_siemens[:, last_prog], var, self.pp)
        self.t_prog[devices] = self.time_seconds
        self._tick("pcm_program", t0)
        return r

    def program(self, devices: np.ndarray, g_read_now: np.ndarray, target: np.ndarray, g_reset: np.ndarray,
                g_max: np.ndarray, *, tolerance: float, max_pulses: int, draws) -> dict[str, np.ndarray]:
        """Closed-loop program-and-verify of PCM ``devices`` toward ``target`` (S), in SPICE.

        The same loop as :func:`pcmspice.array.pcm.program`: a device within
        ``tolerance`` of its target is left alone; one too high is RESET;
        then partial-SET pulses, each followed by a verify read (I / V through
        the access transistor, as the array reads it), until the read is
        within tolerance; an overshoot RESETs the device (before its next
        SET); at most ``max_pulses`` SET pulses.  ``draws(devices)`` gives
        each device's (m, z) for its next SET pulse: the cycle-to-cycle
        growth-rate multiplier and the standard-normal kick of the model's
        ``kz`` port.  ``g_reset`` / ``g_max`` clip the targets as the LUT path
        does.

        Returns the verify reads, pulse counts, convergence and ``ops``: per
        device, the programming pulses in order, each with the programmed
        (drift-free, node g0) conductance it left: ``("reset", g0_after)`` or
        ``("set", m, z, g0_before, g0_after)``, so that the LUT path can
        receive the same pulses and their outcome
        (:class:`pcmspice.cosim.luts.ReplayProgrammer`).
        """
        devices = np.asarray(devices, np.int64)
        n = devices.size
        ops_log: list[list[tuple]] = [[] for _ in range(n)]
        target = np.clip(np.asarray(target, float), g_reset, g_max)
        g = np.array(g_read_now, float)
        var = {k: v[devices] for k, v in self.cells.variation.items()}
        g0 = pcmmod.g_of_state(self.x[devices], np.zeros(n), var, self.pp)   # programmed G0 now
        sets = np.zeros(n, np.int64)
        resets = np.zeros(n, np.int64)

        def reset_now(idx: np.ndarray) -> None:
            r = self._ops(devices[idx], [[("reset",), ("read",)]] * idx.size, None)
            g[idx] = r.g_read_siemens[:, 1]
            g0[idx] = r.g0_after_siemens[:, 0]
            resets[idx] += 1
            for i in idx:
                ops_log[i].append(("reset", float(g0[i])))

        done = np.abs(g - target) <= tolerance
        high = ~done & (g > target)
        if high.any():
            idx = np.flatnonzero(high)
            reset_now(idx)
            done[idx] = np.abs(g[idx] - target[idx]) <= tolerance
        active = np.flatnonzero(~done)
        pending_reset = np.zeros(n, bool)
        gap = float(self.pp["t_gap_pcm_seconds"])
        for _ in range(max_pulses):
            if active.size == 0:
                break
            m, z = (np.asarray(a, float) for a in draws(devices[active]))
            pr = pending_reset[active]
            if pr.any():
                ops = [[("reset",) if r_ else ("idle", gap), ("set",), ("read",)] for r_ in pr]
                mults = np.stack([np.ones_like(m), m, m], axis=1)
                kicks = np.stack([np.zeros_like(z), z, np.zeros_like(z)], axis=1)
            else:
                ops = [[("set",), ("read",)]] * active.size
                mults = np.stack([m, m], axis=1)
                kicks = np.stack([z, np.zeros_like(z)], axis=1)
            r = self._ops(devices[active], ops, mults, kicks)
            col = 1 if pr.any() else 0
            for a, (i, r_) in enumerate(zip(active, pr)):
                if r_:
                    g0[i] = r.g0_after_siemens[a, 0]
                    ops_log[i].append(("reset", float(g0[i])))
                ops_log[i].append(("set", float(m[a]), float(z[a]), float(g0[i]), float(r.g0_after_siemens[a, col])))
                g0[i] = r.g0_after_siemens[a, col]
            resets[active[pr]] += 1
            pending_reset[active] = False
            sets[active] += 1
            rd = r.g_read_siemens[:, -1]
            g[active] = rd
            t_a = target[active]
            over = rd > t_a + tolerance
            pending_reset[active[over]] = True
            ok = ~over & (rd >= t_a - tolerance)
            active = active[~ok]
        if pending_reset.any():   # the LUT loop RESETs an overshooting device at once
            reset_now(np.flatnonzero(pending_reset))
        converged = np.ones(n, bool)
        converged[active] = False
        self.counters["pcm_set_pulses"] += int(sets.sum())
        self.counters["pcm_reset_pulses"] += int(resets.sum())
        self.counters["pcm_not_converged"] += int((~converged).sum())
        return dict(g_read_siemens=g, g0_siemens=g0, set_pulses=sets, reset_pulses=resets, converged=converged,
                    target_siemens=target, ops=ops_log)

    # ------------------------------------------------------------------ state
    def pcm_g_model(self) -> np.ndarray:
        """The PCM model's own conductance (node gr) of every device at its present state."""
        age = np.maximum(self.time_seconds - self.t_prog, 0.0)
        return pcmmod.g_of_state(self.x, age, self.cells.variation, self.pp)

    def state(self) -> dict[str, np.ndarray]:
        return {"vc_volts": self.vc.copy(), "vref_volts": self.vref.copy(), "pcm_x": self.x.copy(),
                "pcm_programmed_at_seconds": self.t_prog.copy(), "polarity": np.array(self.polarity),
                "time_seconds": np.array(self.time_seconds)}
