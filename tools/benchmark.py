"""Time one training step of MAE and of SdAE's teacher feedings (the paper's Table 1), side by side.

In one process, on the same synthetic in-memory batch, every model is built and warmed up, then the
timed steps of forward + backward + AdamW step (the same optimizer for every model) go round-robin
over the models, so that the machine's drift hits them alike (all models stay in memory: ViT-B needs
about 2.5 GB per row on the CPU; use ``--rows`` to run fewer). Prints a Markdown
table: median and spread of the step time, peak memory, analytic FLOPs per step, achieved FLOP/s,
FLOP/s as a fraction of a plain GEMM measured in the same run, the ratio to MAE, and the cost of
one teacher EMA update (SdAE applies it once per epoch, so it is not part of the step).

Examples:
    python tools/benchmark.py --arch base --batch 4 --amp none --steps 5
    python tools/benchmark.py --arch base --batch 4 --amp bf16 --profile
    python tools/benchmark.py --arch base --batch 96 --amp bf16 --device cuda --out gpu.json
    python tools/benchmark.py --arch tiny --steps 2 --out results.json   # CI smoke mode
"""
import argparse
import contextlib
import ctypes
import gc
import json
import logging
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import mmpretrain  # noqa: E402
import sdae_plugin  # noqa: E402,F401  (registers SdAE's modules)
from mmengine.config import Config  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmpretrain.registry import MODELS  # noqa: E402
from sdae_plugin.hooks import TeacherEMAHook  # noqa: E402
from sdae_plugin.utils import ViTShape, train_step_flops  # noqa: E402

ARCHS = {  # MMPretrain arch names and widths
    'tiny': ('deit-tiny', 192),
    'small': ('deit-small', 384),
    'base': ('b', 768),
    'large': ('l', 1024),
}
# name -> (model, overrides): the rows of the paper's Table 1 plus a 2-block-decoder SdAE
ROWS = {
    'mae': ('mae', {}),
    'sdae_full_image': ('sdae', dict(mask_generator=dict(mode='full_image'))),
    'sdae_only_masked': ('sdae', dict(mask_generator=dict(mode='only_masked'))),
    'sdae_teacher_crop': ('sdae', dict(mask_generator=dict(mode='teacher_crop',
                                                           crop_ratio=1 / 3))),
    'sdae_multi_fold': ('sdae', dict(mask_generator=dict(mode='multi_fold', num_folds=3))),
    'sdae_lite': ('sdae', dict(mask_generator=dict(mode='multi_fold', num_folds=3),
                               neck=dict(decoder_depth=2))),
    # an fp32 student with its teacher under bf16 autocast (only differs from sdae_multi_fold
    # under --amp none)
    'sdae_multi_fold_teacher_bf16': ('sdae', dict(mask_generator=dict(mode='multi_fold',
                                                                      num_folds=3),
                                                  teacher_autocast='bf16')),
}
FP32_ONLY_ROWS = ('sdae_multi_fold_teacher_bf16',)
MODEL_CONFIGS = {  # MMPretrain's own MAE ViT-B/16 model config, and ours
    'mae': str(Path(mmpretrain.__file__).parent / '.mim/configs/_base_/models/mae_vit-base-p16.py'),
    'sdae': str(ROOT / 'configs/_base_/models/sdae_vit-b-p16.py'),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arch', choices=sorted(ARCHS), default='base')
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', choices=['none', 'fp16', 'bf16'], default='none')
    parser.add_argument('--compile', action='store_true', help='torch.compile the loss forward')
    parser.add_argument('--steps', type=int, default=5, help='timed steps per model')
    parser.add_argument('--warmup', type=int, default=2, help='untimed steps per model')
    parser.add_argument('--fused-adamw', action='store_true',
                        help='torch.optim.AdamW(fused=True) for every model')
    parser.add_argument('--rows', nargs='+', choices=sorted(ROWS),
                        help='rows to run; default: all (without sdae_multi_fold_teacher_bf16 '
                        'when --amp is not none, where it equals sdae_multi_fold)')
    parser.add_argument('--profile', action='store_true',
                        help='also time the parts of one SdAE multi-fold step')
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args(argv)
    if args.rows is None:
        args.rows = [r for r in ROWS if args.amp == 'none' or r not in FP32_ONLY_ROWS]
    return args


def build(row: str, arch: str, img_size: int) -> torch.nn.Module:
    """Build a row's model from its config (MMPretrain's MAE config, or ours for SdAE)."""
    kind, overrides = ROWS[row]
    cfg = Config.fromfile(MODEL_CONFIGS[kind]).model
    arch_name, width = ARCHS[arch]
    num_patches = (img_size // 16)**2
    cfg.backbone.update(arch=arch_name, img_size=img_size)
    cfg.neck.update(embed_dim=width, num_patches=num_patches)
    for key, value in overrides.items():
        if isinstance(value, dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def shape_of(model) -> tuple:
    """``(ViTShape, num_visible, views, view_len)`` read off a built model."""
    backbone, neck = model.backbone, model.neck
    settings = backbone.arch_settings
    patch = backbone.patch_embed.projection
    shape = ViTShape(
        width=backbone.embed_dims, depth=backbone.num_layers,
        mlp=settings['feedforward_channels'], num_patches=backbone.num_patches,
        patch_dim=patch.in_channels * patch.kernel_size[0] * patch.kernel_size[1],
        decoder_width=neck.decoder_embed.out_features, decoder_depth=len(neck.decoder_blocks),
        decoder_out=neck.decoder_pred.out_features)
    gen = getattr(model, 'mask_generator', None)
    if gen is None:  # MAE
        return shape, int(shape.num_patches * (1 - backbone.mask_ratio)), 0, 0
    return shape, gen.num_visible, gen.num_views, gen.view_len


def amp_context(device: str, amp: str):
    if amp == 'none':
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type,
                          dtype=torch.bfloat16 if amp == 'bf16' else torch.float16)


def sync(device: str) -> None:
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


class PeakRSS:
    """Peak resident set size of this process, sampled every millisecond (CPU memory)."""

    def __init__(self) -> None:
        self.peak, self._stop = 0, threading.Event()

    @staticmethod
    def now() -> int:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')

    def __enter__(self) -> 'PeakRSS':
        self.peak = self.now()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, self.now())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


def release_memory(device: str) -> None:
    gc.collect()
    if torch.device(device).type == 'cuda':
        torch.cuda.empty_cache()
    elif platform.system() == 'Linux':
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL('libc.so.6').malloc_trim(0)  # give freed blocks back to the OS


def make_step(model, optimizer, images, args):
    """One training step: the loss forward under autocast, backward, optimizer step."""
    scaler = torch.amp.GradScaler(enabled=args.amp == 'fp16' and args.device.startswith('cuda'))
    loss_fn = torch.compile(model.loss) if args.compile else model.loss

    def step():
        with amp_context(args.device, args.amp):
            loss = loss_fn(images, None)['loss']
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
    return step


def time_calls(fn, n: int, device: str) -> list:
    times = []
    for _ in range(n):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def gemm_flops_per_s(device: str, amp: str) -> float:
    """FLOP/s of a plain square matrix product in the step's compute dtype."""
    size = 8192 if torch.device(device).type == 'cuda' else 2048
    dtype = {'none': torch.float32, 'bf16': torch.bfloat16, 'fp16': torch.float16}[amp]
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    times = time_calls(lambda: torch.mm(a, b), 3, device)[1:] + time_calls(
        lambda: torch.mm(a, b), 5, device)
    return 2 * size**3 / statistics.median(times)


def prepare_row(row: str, args, images) -> dict:
    """Build a row's model and optimizer, run its warm-up steps, and measure the memory it adds."""
    release_memory(args.device)
    cuda = torch.device(args.device).type == 'cuda'
    before = torch.cuda.memory_allocated() if cuda else PeakRSS.now()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    with PeakRSS() as rss:
        model = build(row, args.arch, args.img_size).to(args.device)
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), weight_decay=0.05,
                                      fused=args.fused_adamw or None)
        step = make_step(model, optimizer, images, args)
        time_calls(step, max(args.warmup, 1), args.device)
    peak = (torch.cuda.max_memory_allocated() if cuda else rss.peak) - before
    return dict(row=row, model=model, optimizer=optimizer, step=step, peak_mem_bytes=peak)


def finish_row(prepared: dict, times: list, args, images) -> dict:
    """The row's numbers from its timed steps, plus the EMA update and (optionally) its parts."""
    model = prepared['model']
    shape, visible, views, view_len = shape_of(model)
    flops = train_step_flops(shape, args.batch, visible, views, view_len)
    median = statistics.median(times)
    result = dict(row=prepared['row'], median_s=median, min_s=min(times), max_s=max(times),
                  times_s=times, peak_mem_bytes=prepared['peak_mem_bytes'], flops=flops,
                  flops_per_s=flops / median)
    if hasattr(model, 'teacher'):
        ema = TeacherEMAHook()
        result['ema_update_s'] = statistics.median(
            time_calls(lambda: ema.update(model, 0.99), 3, args.device))
    if args.profile and prepared['row'] == 'sdae_multi_fold':
        result['parts_s'] = profile_parts(model, prepared['optimizer'], images, args)
    return result


def profile_parts(model, optimizer, images, args) -> dict:
    """Median time of each part of one SdAE step, each run on its own on the same batch."""
    from sdae_plugin.models.backbones.sdae_vit import gather_tokens
    plan = model.mask_generator(images.shape[0], images.device)
    amp, dev, n = (lambda: amp_context(args.device, args.amp)), args.device, max(args.steps, 3)

    def encoder():
        with amp():
            latent = model.backbone.forward_tokens(images, plan.ids_keep[:, None])
        latent.float().sum().backward()

    def encoder_decoder():
        with amp():
            pred = model.neck(model.backbone.forward_tokens(images, plan.ids_keep[:, None]),
                              plan.ids_restore)
            pred = gather_tokens(pred, plan.target_ids)
        pred.float().sum().backward()

    def teacher():
        with torch.no_grad(), amp():
            model.teacher.forward_tokens(images, plan.view_ids)

    def optimizer_step():
        for p in model.parameters():
            if p.requires_grad:
                p.grad = torch.zeros_like(p)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    ema = TeacherEMAHook()
    parts = {}
    for name, fn in [('student encoder fwd+bwd', encoder),
                     ('encoder+decoder fwd+bwd', encoder_decoder), ('teacher fwd', teacher),
                     ('optimizer step', optimizer_step),
                     ('EMA update (once per epoch)', lambda: ema.update(model, 0.99))]:
        time_calls(fn, 1, dev)
        parts[name] = statistics.median(time_calls(fn, n, dev))
        optimizer.zero_grad(set_to_none=True)
    parts['decoder fwd+bwd (difference)'] = (parts['encoder+decoder fwd+bwd'] -
                                              parts['student encoder fwd+bwd'])
    return parts


def machine(device: str) -> str:
    if torch.device(device).type == 'cuda':
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                cpu = line.split(':', 1)[1].strip()
                break
    return f'{cpu}, {torch.get_num_threads()} threads'


def table(results: list, gemm: float) -> str:
    mae = next((r for r in results if r['row'] == 'mae'), None)
    lines = ['| model | step median (s) | min–max (s) | peak mem (GiB) | GFLOP/step | '
             'achieved TFLOP/s | of GEMM | step / MAE | mem / MAE | EMA update (s) |',
             '|---|---|---|---|---|---|---|---|---|---|']
    for r in results:
        ratio = f"{r['median_s'] / mae['median_s']:.3f}" if mae else '—'
        mem = f"{r['peak_mem_bytes'] / mae['peak_mem_bytes']:.3f}" if mae else '—'
        ema = f"{r['ema_update_s']:.3f}" if 'ema_update_s' in r else '—'
        lines.append(
            f"| {r['row']} | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
            f"{r['peak_mem_bytes'] / 2**30:.2f} | {r['flops'] / 1e9:.1f} | "
            f"{r['flops_per_s'] / 1e12:.3f} | {r['flops_per_s'] / gemm:.0%} | {ratio} | {mem} | "
            f'{ema} |')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    init_default_scope('mmpretrain')
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no per-parameter init log
    torch.manual_seed(0)
    images = torch.randn(args.batch, 3, args.img_size, args.img_size, device=args.device)
    gemm = gemm_flops_per_s(args.device, args.amp)
    # Every row is built first (its memory measured while it alone runs its warm-up steps), then
    # the timed steps go round-robin over the rows, so that the machine's drift hits all rows alike.
    # A throw-away step first, so that one-time costs (thread pools, kernel caches) are not counted
    # in the first row's memory.
    del prepare_row(args.rows[0], args, images)['model']
    prepared = []
    for row in args.rows:
        prepared.append(prepare_row(row, args, images))
        print(f"{row}: built, +{prepared[-1]['peak_mem_bytes'] / 2**30:.2f} GiB", flush=True)
    times = {p['row']: [] for p in prepared}
    for _ in range(args.steps):
        for p in prepared:
            times[p['row']] += time_calls(p['step'], 1, args.device)
    results = [finish_row(p, times[p['row']], args, images) for p in prepared]
    del prepared
    memory = ('GPU: peak torch.cuda memory allocated while the row built its model and ran its '
              'warm-up steps, minus the allocation before (weights, grads, optimizer state, '
              'activations)' if torch.device(args.device).type == 'cuda' else
              'CPU: peak RSS (sampled every 1 ms) while the row built its model and ran its '
              'warm-up steps, minus the RSS before (weights, grads, optimizer state, activations)')
    report = dict(machine=machine(args.device), torch=torch.__version__, args=vars(args),
                  gemm_flops_per_s=gemm, memory=memory, results=results)
    print(f"\n{report['machine']}, torch {torch.__version__}, arch {args.arch}, batch "
          f'{args.batch}, {args.img_size}², amp {args.amp}, compile {args.compile}, fused AdamW '
          f'{args.fused_adamw}, {args.steps} timed steps after {args.warmup} warm-up')
    print(f'plain GEMM: {gemm / 1e12:.3f} TFLOP/s; memory: {memory}\n')
    print(table(results, gemm))
    for r in results:
        if 'parts_s' in r:
            print('\nParts of one sdae_multi_fold step (each timed alone, median):')
            print('\n'.join(f'| {k} | {v:.3f} s |' for k, v in r['parts_s'].items()))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    return report


if __name__ == '__main__':
    main()
