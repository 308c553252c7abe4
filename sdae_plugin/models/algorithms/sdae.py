"""SdAE: Self-distillated Masked Autoencoder (Chen et al., ECCV 2022)."""
import contextlib
import copy
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ..backbones.sdae_vit import SdAEViT, gather_tokens
from ..utils.masking import MaskPlan
from ..utils.released_init import init_like_released_teacher

TEACHER_INITS = ('random', 'student', 'released')
TEACHER_AUTOCAST_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}
# torch.compile options of ``compile_loss=True``: the masks' shapes are fixed by the config, so
# the graph is static (``dynamic=False``: a changed batch size is a new graph, never a dynamic
# one); ``fullgraph=True`` makes a graph break (e.g. a host synchronization) an error.
COMPILE_DEFAULTS = dict(dynamic=False, fullgraph=True)


@MODELS.register_module()
class SdAE(BaseSelfSupervisor):
    """A ViT student predicts, at masked patches, the features of an EMA teacher.

    One step (all shapes for batch B, N patches, width C, V teacher views of L patches):

    1. ``mask_generator`` draws a :class:`MaskPlan`: the student's visible patches and the
       teacher's views (3 folds of the masked patches by default).
    2. The ``teacher`` (same ViT, drop path 0, no gradients) encodes all ``B * V`` views in one
       batched pass, each view its own sequence with its own cls token, ``(B * V, 1 + L, C)``;
       the ``head`` normalizes its features per patch into the targets. The teacher runs first
       so that its activations are freed before the student's are built (lower peak memory).
    3. The student ``backbone`` encodes the visible patches, ``(B, 1 + N_vis, C)``; the ``neck``
       (decoder) predicts features for all positions, ``(B, N, C)``.
    4. The ``head`` applies the cosine loss to the predictions gathered at the target positions.

    The teacher is a plain submodule: it is saved, resumed and broadcast with the model, and it
    only changes through :meth:`update_teacher`, which
    :class:`~sdae_plugin.hooks.TeacherEMAHook` calls once per epoch with the scheduled momentum.

    Args:
        backbone (dict): config of the student encoder, an :class:`SdAEViT`. The teacher is
            built from the same config with ``drop_path_rate=0`` and ``drop_rate=0``.
        neck (dict): config of the decoder, e.g. :class:`SdAENeck`. ``num_patches`` and
            ``embed_dim`` must match the backbone.
        head (dict): config of the loss head, :class:`SdAEHead`.
        mask_generator (dict): config of :class:`MultiFoldMaskGenerator`; ``num_patches`` is
            filled in from the backbone.
        teacher_init (str): how the teacher starts. ``'random'``: its own random
            initialization, the student's init scheme (MAE's: Xavier Linear, fixed sin-cos
            positions), so the targets of epoch 0 come from a random network as in the released
            code. ``'released'``: the released code's exact scheme, timm 0.3.2's (truncated-normal
            Linear, cls token and position table, default conv patch embedding; see
            :mod:`~sdae_plugin.models.utils.released_init`). ``'student'``: a copy of the student.
            Defaults to ``'random'``.
        teacher_autocast (str, optional): run the teacher's forward under autocast in this
            dtype, ``'bf16'`` or ``'fp16'``, whatever the precision of the student. ``None``
            (default) follows the surrounding precision: fp32 training gives an fp32 teacher,
            ``AmpOptimWrapper`` an autocast one. ``'bf16'`` with an fp32 student is the fast mode
            on CPUs with AMX (the teacher's forward is a third of an fp32 step); the targets are
            normalized in fp32 either way, and the released code ran its teacher under fp16
            autocast with everything else.
        compile_loss (bool | dict): ``torch.compile`` :meth:`masked_loss` (teacher, student,
            decoder and loss head, forward and backward). The masks are drawn before it, in
            eager mode and from the same random stream, so that a compiled run draws the masks
            an eager run draws, and every step calls the compiled graph with tensors of the same
            shapes: it compiles once. A dict gives ``torch.compile`` options on top of
            ``dict(dynamic=False, fullgraph=True)``. Defaults to False (eager).
        teacher (dict, optional): normally left unset. If given, it must be the backbone config
            (up to ``drop_path_rate``/``drop_rate``): the teacher is an EMA of the student, so a
            different architecture is an error (``ValueError`` naming the differing keys).
        pretrained (str, optional): checkpoint to initialize the whole model from.
        data_preprocessor (dict, optional): defaults to ``SelfSupDataPreprocessor``.
        init_cfg (dict | list[dict], optional): initialization config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 head: dict,
                 mask_generator: dict = dict(type='MultiFoldMaskGenerator'),
                 teacher_init: str = 'random',
                 teacher_autocast: Optional[str] = None,
                 compile_loss: Union[bool, dict] = False,
                 teacher: Optional[dict] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if teacher_init not in TEACHER_INITS:
            raise ValueError(f'Unknown teacher_init {teacher_init!r}; choose one of '
                             f'{TEACHER_INITS}.')
        if teacher_autocast is not None and teacher_autocast not in TEACHER_AUTOCAST_DTYPES:
            raise ValueError(f'Unknown teacher_autocast {teacher_autocast!r}; choose one of '
                             f'{tuple(TEACHER_AUTOCAST_DTYPES)} or None (follow the student).')
        if not isinstance(compile_loss, (bool, dict)):
            raise TypeError(f'compile_loss must be True/False or a dict of torch.compile '
                            f'options, got {compile_loss!r}.')
        if not isinstance(backbone, dict):
            raise TypeError('SdAE builds its teacher from the backbone config: pass `backbone` as '
                            f'a config dict, not {type(backbone).__name__}.')
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not isinstance(self.backbone, SdAEViT):
            raise TypeError(f'SdAE needs an SdAEViT backbone (it encodes patch subsets), got '
                            f'{type(self.backbone).__name__}.')
        num_patches, width = self.backbone.num_patches, self.backbone.embed_dims
        if getattr(self.neck, 'num_patches', num_patches) != num_patches:
            raise ValueError(f'neck.num_patches={self.neck.num_patches} but the backbone has '
                             f'{num_patches} patches (img_size / patch_size squared).')
        if getattr(self.neck, 'embed_dim', width) != width:
            raise ValueError(f'neck.embed_dim={self.neck.embed_dim} but the backbone width is '
                             f'{width}: the decoder must predict features of the teacher width.')

        teacher_cfg = copy.deepcopy(backbone)
        teacher_cfg.update(drop_path_rate=0., drop_rate=0.)
        if teacher is not None:
            given = {**dict(teacher), 'drop_path_rate': 0., 'drop_rate': 0.}
            diff = sorted(k for k in set(given) | set(teacher_cfg)
                          if given.get(k) != teacher_cfg.get(k))
            if diff:
                raise ValueError(
                    f'teacher differs from the student backbone in {diff} (teacher: '
                    f'{ {k: given.get(k) for k in diff} }, backbone: '
                    f'{ {k: teacher_cfg.get(k) for k in diff} }). SdAE\'s teacher is an EMA of '
                    'the student and must be the same architecture; leave `teacher` unset '
                    '(it is built from `backbone`).')
        self.teacher = MODELS.build(teacher_cfg).requires_grad_(False)
        self.teacher_init = teacher_init
        self.teacher_autocast = teacher_autocast

        mask_generator = dict(mask_generator)
        if mask_generator.setdefault('num_patches', num_patches) != num_patches:
            raise ValueError(f'mask_generator.num_patches={mask_generator["num_patches"]} but '
                             f'the backbone has {num_patches} patches; leave it unset.')
        self.mask_generator = MODELS.build(mask_generator)
        # A function of (model, images, plan), not a bound method: a deep copy of the model
        # shares it and still passes itself.
        self._masked_loss: Callable = type(self).masked_loss
        if compile_loss:
            options = {**COMPILE_DEFAULTS, **(compile_loss if isinstance(compile_loss, dict)
                                              else {})}
            self._masked_loss = torch.compile(self._masked_loss, **options)

    def init_weights(self) -> None:
        """Initialize student and teacher, then start the teacher as ``teacher_init`` says."""
        first_time = not self._is_init
        super().init_weights()
        if first_time and self.teacher_init == 'student':
            self.teacher.load_state_dict(self.backbone.state_dict())
        elif first_time and self.teacher_init == 'released':
            init_like_released_teacher(self.teacher)

    def train(self, mode: bool = True) -> 'SdAE':
        """Set the training mode; the teacher always stays in eval mode."""
        super().train(mode)
        self.teacher.eval()
        return self

    def loss(self, inputs: Union[torch.Tensor, List[torch.Tensor]],
             data_samples: Optional[List[DataSample]] = None,
             **kwargs) -> Dict[str, torch.Tensor]:
        """One SdAE step's loss and diagnostics.

        Args:
            inputs (Tensor | list[Tensor]): ``(B, C_in, H, W)`` images (a one-element list, as
                some pipelines produce, is accepted).
            data_samples (list[DataSample], optional): unused.

        Returns:
            dict: ``loss`` (the only key summed for the backward pass), and for the log
            ``target_std`` and ``cosine``.
        """
        images = self._single_view(inputs)
        plan = self.mask_generator(images.shape[0], images.device)
        return self._masked_loss(self, images, plan)

    def masked_loss(self, images: torch.Tensor, plan: MaskPlan) -> Dict[str, torch.Tensor]:
        """The loss and diagnostics of one step with given masks (compiled by ``compile_loss``).

        Nothing in it reads a tensor's value on the host: the diagnostics stay tensors until
        the logger reads them, so the step never waits for the device.

        Args:
            images (Tensor): ``(B, C_in, H, W)``.
            plan (MaskPlan): the step's masks.

        Returns:
            dict: as :meth:`loss`.
        """
        target = self.teacher_targets(images, plan)  # (B*V, L_t, C)

        latent = self.backbone.forward_tokens(images, plan.ids_keep[:, None])  # (B, 1+N_vis, C)
        pred = self.neck(latent, plan.ids_restore)  # (B, N, C)
        pred = gather_tokens(pred, plan.target_ids).flatten(0, 1)  # (B*V, L_t, C)

        losses = dict(loss=self.head.loss(pred, target))
        losses.update(self.head.diagnostics(pred, target))
        return losses

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """One EMA step, ``teacher <- m * teacher + (1 - m) * student`` (Eq. (7)).

        ``m`` is the weight on the OLD teacher (SdAE's and DINO's convention). Parameters and
        floating-point buffers are interpolated in one ``torch._foreach_lerp_`` call; integer
        buffers (counters) are copied from the student. Every rank of a DDP run holds the same
        student after the optimizer step and applies the same update, so the teachers stay
        identical without communication.

        Args:
            momentum (float): ``m`` in [0, 1].

        Raises:
            RuntimeError: if teacher and student do not have the same tensors (by name).
        """
        teacher, student = self._teacher_student_pairs()
        floats = [(t, s) for t, s in zip(teacher, student) if t.is_floating_point()]
        if floats:
            t_float, s_float = zip(*floats)
            torch._foreach_lerp_(list(t_float), list(s_float), 1.0 - momentum)
        for t, s in zip(teacher, student):
            if not t.is_floating_point():
                t.copy_(s)

    def _teacher_student_pairs(self) -> Tuple[List[torch.Tensor], List[torch.Tensor]]:
        """Matching (teacher, student) parameters and buffers, by name."""
        t_state = dict(self.teacher.named_parameters())
        t_state.update(self.teacher.named_buffers())
        s_state = dict(self.backbone.named_parameters())
        s_state.update(self.backbone.named_buffers())
        if t_state.keys() != s_state.keys():
            diff = sorted(set(t_state) ^ set(s_state))
            raise RuntimeError(f'Teacher and student have different parameters/buffers: '
                               f'{diff[:10]}. They must be the same architecture.')
        return [t_state[k] for k in t_state], [s_state[k] for k in t_state]

    @torch.no_grad()
    def teacher_targets(self, images: torch.Tensor, plan: MaskPlan) -> torch.Tensor:
        """The teacher's normalized features at the target positions of every view.

        Args:
            images (Tensor): ``(B, C_in, H, W)``.
            plan (MaskPlan): the step's masks.

        Returns:
            Tensor: ``(B * V, L_t, C)`` fp32 targets, no autograd graph.
        """
        if self.teacher_autocast is None:
            precision = contextlib.nullcontext()
        else:
            precision = torch.autocast(images.device.type,
                                       dtype=TEACHER_AUTOCAST_DTYPES[self.teacher_autocast])
        with precision:
            features = self.teacher.forward_tokens(images, plan.view_ids)  # (B*V, 1+L, C)
        return self.head.construct_target(features[:, 1:1 + plan.num_targets].float())

    @staticmethod
    def _single_view(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'SdAE takes one view per image, got {len(inputs)}: student and '
                                 'teacher read the same augmented image.')
            inputs = inputs[0]
        return inputs
