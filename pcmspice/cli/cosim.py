"""`pcmspice cosim`: a small network trained on the SPICE array and on the LUT array, compared."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from pcmspice.cli.options import INTEGER, NUMBER
from pcmspice.cosim.config import CosimConfig

_D = CosimConfig()   # the option defaults are the config's


@click.command()
@click.option("--rows", type=INTEGER, default=_D.rows, show_default=True,
              help="Array rows = network inputs (rows-1 principal components of the digits + bias).")
@click.option("--cols", type=INTEGER, default=_D.cols, show_default=True,
              help="Array columns = network outputs = classes (digits 0 .. cols-1, at most 10).")
@click.option("--examples", type=INTEGER, default=_D.examples, show_default=True, help="Training examples.")
@click.option("--tech", "technology", default=_D.technology, show_default=True,
              help="Technology: generic65, sky130, or the path of a technology folder (docs/technologies.md).")
@click.option("--corner", default=_D.corner, show_default=True, help="Process corner.")
@click.option("--temp", "temp_c", type=NUMBER, default=_D.temp_c, show_default=True, help="Temperature (°C).")
@click.option("--seed", type=INTEGER, default=_D.seed, show_default=True,
              help="Cells, data order, pulses and PCM cycle-to-cycle draws.")
@click.option("--lr", "learning_rate", type=NUMBER, default=_D.learning_rate, show_default=True,
              help="Learning rate.")
@click.option("--bit-length", type=INTEGER, default=_D.bit_length, show_default=True,
              help="Pulse slots per example (stochastic pulse coincidence).")
@click.option("--transfer-every", type=INTEGER, default=_D.transfer_every, show_default=True,
              help="Examples between transfers to PCM (each flips the polarity); 0 = never.")
@click.option("--time-per-example", "time_per_example_seconds", type=NUMBER, default=_D.time_per_example_seconds,
              show_default=True, help="Hardware time of one example (s): the leakage between examples.")
@click.option("--w-max", type=NUMBER, default=_D.w_max, show_default=True,
              help="Weight mapped to the PCM programming span (sets siemens per unit weight).")
@click.option("--predistort-t0", "predistort_t0", type=NUMBER, default=None,
              help="Pre-distort the PCM targets for the drift over half the transfer interval, assuming this "
                   "drift onset (s), in the chip and the LUT array (issue 20; drift-robust.toml uses 1e-7).")
@click.option("--engine", type=click.Choice(["auto", "shared", "subprocess"]), default="auto", show_default=True)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the LUTs of the array's cells are cached (default $PCMSPICE_CACHE/cosim or "
                   "~/.cache/pcmspice/cosim).")
@click.option("--no-cache", is_flag=True, help="Build the LUTs of the cells afresh and do not cache them.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/cosim"), show_default=True,
              help="Output folder.")
@click.option("--force", is_flag=True, help="Replace OUT even if it holds another run.")
@click.option("--quiet", is_flag=True, help="No progress line.")
def cosim(rows, cols, examples, technology, corner, temp_c, seed, learning_rate, bit_length, transfer_every,
          time_per_example_seconds, w_max, predistort_t0, engine, cache, no_cache, out, force, quiet):
    """Train a small single-layer network twice with the same cells, data order and pulses: every array
    operation in SPICE, and on the LUT array simulator; write the comparison.

    Outputs in OUT: table.csv (per example: RMS and max Vc difference, weight difference, prediction
    agreement), transfers.csv, summary.json (vc_rms_error_volts, prediction_agreement, run times,
    provenance), figures/vc_scatter.png, figures/error_vs_example.png, the LUTs of the cells and one
    netlist of each SPICE operation.
    """
    from pcmspice.core.outputs import prepare_out_dir
    from pcmspice.cosim import default_cache_dir, run_cosim, save_run
    from pcmspice.cosim.outputs import KIND, run_folder_key
    cfg = CosimConfig(rows=rows, cols=cols, examples=examples, technology=technology, corner=corner, temp_c=temp_c,
                      seed=seed, learning_rate=learning_rate, bit_length=bit_length, transfer_every=transfer_every,
                      time_per_example_seconds=time_per_example_seconds, w_max=w_max, engine=engine,
                      drift_predistort=predistort_t0 is not None,
                      drift_predistort_t0_seconds=predistort_t0).validate()
    prepare_out_dir(out, KIND, run_folder_key(cfg), force)   # before the minutes of SPICE
    show = not quiet and sys.stderr.isatty()

    def progress(done, total):
        if show:
            click.echo(f"\r  example {done}/{total}", err=True, nl=done == total)

    res = run_cosim(cfg, cache_dir=None if no_cache else (cache or default_cache_dir()), progress=progress)
    save_run(res, out, force=force)
    s = res.summary
    click.echo(f"{cfg.rows}x{cfg.cols} array, {cfg.examples} examples, {s['transfers']} transfers "
               f"({s['polarity_inversions']} polarity inversions), {s['pulses_total']} update pulses")
    click.echo(f"  Vc, LUT vs SPICE at the end: RMS {1e3 * s['vc_rms_error_volts']:.4f} mV, "
               f"max {1e3 * s['vc_max_error_volts']:.4f} mV (bound {1e3 * s['vc_bound_volts']:g} mV RMS)")
    click.echo(f"  weights: RMS difference {s['weight_rms_error']:.4g} (PCM part {s['weight_pcm_rms_error']:.4g}) "
               f"of RMS weight {s['weight_rms']:.4g}")
    click.echo(f"  test-set prediction agreement {100 * s['prediction_agreement']:.1f} % of {s['n_test']} "
               f"(bound {100 * s['prediction_agreement_bound']:g} %); accuracy SPICE "
               f"{100 * s['test_accuracy_spice']:.1f} %, LUT {100 * s['test_accuracy_lut']:.1f} %")
    click.echo(f"  run time: SPICE in the loop {s['spice_seconds']:.1f} s ({1e3 * s['spice_seconds_per_example']:.0f} "
               f"ms/example), LUT path {s['lut_seconds']:.3f} s ({1e3 * s['lut_seconds_per_example']:.2f} ms/example):"
               f" SPICE/LUT = {s['spice_over_lut_time']:.0f}x  (LUT build {s['lut_build_seconds']:.1f} s)")
    click.echo(f"{'PASS' if s['passed'] else 'FAIL'}: wrote {out}")
