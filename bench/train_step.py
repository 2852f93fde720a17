"""One FER2013 training step, timed: wall, user and system CPU, and page faults, per step of the real recipe.

The full recipe's FER2013 stage is most of `make train`. Each variant runs in a fresh process (glibc reads
its malloc tunables at start-up): the allocator as glibc ships it, and as the Makefile sets it
(`GLIBC_TUNABLES`: freed activations kept in the heap instead of unmapped and faulted back in every step).
Synthetic 48×48 faces stand in for FER2013 rows: the cost of a step does not depend on the pixels. Prints JSON.

    .venv/bin/python bench/train_step.py [--steps 12] [--threads 2] [--variants recipe size:96 frozen:3 cached:3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MAKEFILE_TUNABLES = "glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=1073741824"


def measure(steps: int, threads: int, variant: str = "recipe") -> dict[str, float]:
    """Per-step figures of ``steps`` FER-stage steps (batch 64, the light augmentation) in this process.

    ``variant``: ``recipe`` (128 px, every layer trained); ``size:N`` (the source stage at N px); ``frozen:K`` (the
    stem and the first K stages frozen, run forward without gradients every step); ``cached:K`` (the same, their
    activations computed once beforehand, so a step runs only the trained stages: the cost of the stage's FLOPs
    alone, not of computing the cache).
    """
    import numpy as np
    import torch
    from torch import nn

    from mlcore.augment import LIGHT, augment
    from mlcore.extractor import ExtractorConfig, build_extractor
    from mlcore.labels import NUM_CLASSES
    from mlcore.training.config import TrainConfig
    from mlcore.training.data import FerData, fer_batch

    torch.set_num_threads(threads)
    config = TrainConfig()
    kind, _, value = variant.partition(":")
    size = int(value) if kind == "size" else config.image_size
    frozen = int(value) if kind in ("frozen", "cached") else 0
    extractor = build_extractor(ExtractorConfig(image_size=size), imagenet=True)
    backbone = extractor.backbone
    front = nn.Sequential(backbone.conv_stem, backbone.bn1, *backbone.blocks[:frozen]).eval()
    back = nn.Sequential(
        *backbone.blocks[frozen:], backbone.conv_head, backbone.bn2, backbone.global_pool, extractor.project
    )
    model = nn.Sequential(back if frozen else extractor, nn.Linear(64, NUM_CLASSES))
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.fer_lr)
    generator = torch.Generator().manual_seed(0)
    faces = torch.randint(0, 256, (2000, 48, 48), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (len(faces),), generator=generator).numpy()
    fer = FerData(faces, labels, train=np.arange(len(faces)), val=np.arange(0))
    model.train()
    cache = None
    if kind == "cached":
        with torch.no_grad():
            cache = front(fer_batch(fer, np.arange(4 * config.fer_batch), size))

    def step(i: int) -> None:
        idx = torch.randint(0, len(faces), (config.fer_batch,), generator=generator).numpy()
        if cache is not None:
            x = cache[torch.randint(0, len(cache), (config.fer_batch,), generator=generator)]
        else:
            x = augment(fer_batch(fer, idx, size), LIGHT, torch.Generator().manual_seed(i))
            if frozen:
                with torch.no_grad():
                    x = front(x)
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(x), torch.from_numpy(fer.labels[idx])).backward()
        optimiser.step()

    for i in range(2):  # the first steps allocate for good
        step(i)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for i in range(steps):
        step(i)
    wall, after = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {
        "wall_s": round(wall / steps, 3),
        "user_s": round((after.ru_utime - before.ru_utime) / steps, 3),
        "system_s": round((after.ru_stime - before.ru_stime) / steps, 3),
        "minor_faults": (after.ru_minflt - before.ru_minflt) // steps,
    }


def run_variant(tunables: str | None, steps: int, threads: int, variant: str = "recipe") -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES"}
    if tunables:
        env["GLIBC_TUNABLES"] = tunables
    command = [sys.executable, __file__, "--steps", str(steps), "--threads", str(threads), "--child", variant]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--variants", nargs="+", help="time these step variants (see measure) instead, with tunables")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.steps, args.threads, args.child)))
        return
    if args.variants:
        timed = {v: run_variant(MAKEFILE_TUNABLES, args.steps, args.threads, v) for v in args.variants}
        print(json.dumps({"steps": args.steps, "threads": args.threads, "cpus": os.cpu_count(), **timed}, indent=2))
        return
    shipped = run_variant(None, args.steps, args.threads)
    tuned = run_variant(MAKEFILE_TUNABLES, args.steps, args.threads)
    print(
        json.dumps(
            {
                "steps": args.steps,
                "threads": args.threads,
                "cpus": os.cpu_count(),
                "glibc_default": shipped,
                "makefile_tunables": {"GLIBC_TUNABLES": MAKEFILE_TUNABLES, **tuned},
                "speedup": round(shipped["wall_s"] / tuned["wall_s"], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
