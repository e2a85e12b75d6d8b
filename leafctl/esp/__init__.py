"""The LEAF-ESP engine: evolutionary surrogate-assisted prescription on NumPy or CuPy.

No CLI and no Azure here. Entry points the CLI and the job runner use:

- ``engine.load_config(path, overrides)`` / ``engine.EvolveConfig`` / ``engine.evolve(config, out_dir)``
- ``prescribe.prescribe(model_dir, contexts_csv, candidate)``
- ``samples.sample_config(name)``
- ``python -m leafctl.esp.job CONFIG_TOML OUT_DIR [--resume]``; ``--islands N`` (under ``mpiexec -n N``
  one island per rank) runs the island model of ``islands.py``

Heavy modules are imported lazily by whoever needs them; importing this package is cheap.
"""
