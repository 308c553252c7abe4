"""SdAE: Self-distillated Masked Autoencoder (Chen et al., ECCV 2022)."""
import copy
from typing import Callable, Dict, List, Optional, Tuple, Union

import torch
from mmpretrain.models.selfsup.base import BaseSelfSupervisor
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

from ...runtime.precision import autocast, autocast_dtype
from ..backbones.sdae_vit import SdAEViT, gather_tokens
from ..utils.masking import MaskPlan
from ..utils.released_init import init_like_released_teacher

TEACHER_INITS = ('random', 'student', 'released')
TEACHER_PRECISIONS = ('bf16', 'fp16')
# torch.compile options of ``compile_loss=True``: the masks' shapes are fixed by the config, so
# the graph is static (``dynamic=False``: a changed batch size is a new graph, never a dynamic
# one); ``fullgraph=True`` makes a graph break (e.g. a host synchronization) an error.
COMPILE_DEFAULTS = dict(dynamic=False, fullgraph=True)


@MODELS.register_module()
class SdAE(BaseSelfSupervisor):
    """A ViT student predicts, at masked patches, the features of an EMA teacher.

    One step, :meth:`loss` (shapes for batch B, N patches, width C, V teacher views of L patches,
    the first ``L_t`` of which are targets):

    1. ``mask_generator`` draws a :class:`MaskPlan`: the student's visible patches and the
       teacher's views (3 folds of the masked patches by default).
    2. :meth:`teacher_targets`: the ``teacher`` (same ViT, drop path 0, no gradients) encodes all
       ``B * V`` views in one batched pass, each view its own sequence with its own cls token,
       ``(B * V, 1 + L, C)``; the ``head`` normalizes the target tokens per patch,
       ``(B * V, L_t, C)``. The teacher runs first so that its activations are freed before the
       student's are built (lower peak memory).
    3. :meth:`student_predictions`: the student ``backbone`` encodes the visible patches,
       ``(B, 1 + N_vis, C)``; the ``neck`` (decoder) predicts features for all positions,
       ``(B, N, C)``, of which the target positions are gathered, ``(B * V, L_t, C)``.
    4. The ``head`` applies the cosine loss to the two (:meth:`masked_loss`).

    Two invariants make predictions and targets line up row by row and token by token:

    - **row order** ``b * V + v``: the teacher's ``forward_tokens`` returns image ``b``'s view
      ``v`` in row ``b * V + v``, and ``gather_tokens(pred, target_ids)`` is ``(B, V, L_t, C)``,
      which ``flatten(0, 1)`` puts in the same order;
    - **targets first**: :class:`MaskPlan` puts each view's target patches at its first ``L_t``
      positions (``target_ids = view_ids[..., :L_t]``; in ``'full_image'`` mode the generator
      places the masked patches before the visible ones), so the targets are the teacher's
      tokens ``1 .. L_t`` (token 0 is the cls token).

    The teacher is a plain submodule: it is saved, resumed and broadcast with the model, and it
    only changes through :meth:`update_teacher`, which
    :class:`~sdae_plugin.hooks.TeacherEMAHook` calls (once per epoch by default) with the
    scheduled momentum. ``tools/train.py`` refuses an SdAE config without that hook unless the
    model says ``frozen_teacher=True``.

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
        frozen_teacher (bool): the teacher never follows the student (an ablation):
            :meth:`update_teacher` refuses to run, and a config with ``TeacherEMAHook`` is an
            error. Defaults to False.
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
                 frozen_teacher: bool = False,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        _check_options(backbone, teacher_init, compile_loss)
        super().__init__(
            backbone=backbone,
            neck=neck,
            head=head,
            pretrained=pretrained,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        self._check_backbone_and_neck()
        self.teacher = MODELS.build(teacher_config(backbone)).requires_grad_(False)
        self.teacher_init = teacher_init
        self.teacher_autocast = teacher_autocast
        self.teacher_dtype = None if teacher_autocast is None else autocast_dtype(
            teacher_autocast, allowed=TEACHER_PRECISIONS, what='teacher_autocast')
        self.frozen_teacher = bool(frozen_teacher)
        self.mask_generator = MODELS.build(
            mask_generator_config(mask_generator, self.backbone.num_patches))
        # A function of (model, images, plan), not a bound method: a deep copy of the model
        # shares it and still passes itself.
        self._masked_loss: Callable = type(self).masked_loss
        if compile_loss:
            options = {**COMPILE_DEFAULTS, **(compile_loss if isinstance(compile_loss, dict)
                                              else {})}
            self._masked_loss = torch.compile(self._masked_loss, **options)

    def _check_backbone_and_neck(self) -> None:
        """Raise unless the backbone encodes patch subsets and the neck matches its sizes."""
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
        target = self.teacher_targets(images, plan)  # (B*V, L_t, C), first: frees its activations
        pred = self.student_predictions(images, plan)  # (B*V, L_t, C), rows in the same order
        losses = dict(loss=self.head.loss(pred, target))
        losses.update(self.head.diagnostics(pred, target))
        return losses

    def student_predictions(self, images: torch.Tensor, plan: MaskPlan) -> torch.Tensor:
        """The student's predictions at the target positions of every view.

        Args:
            images (Tensor): ``(B, C_in, H, W)``.
            plan (MaskPlan): the step's masks.

        Returns:
            Tensor: ``(B * V, L_t, C)``; row ``b * V + v`` is image ``b``'s view ``v``, the row
            order of :meth:`teacher_targets`.
        """
        latent = self.backbone.forward_tokens(images, plan.ids_keep[:, None])  # (B, 1+N_vis, C)
        pred = self.neck(latent, plan.ids_restore)  # (B, N, C), grid order
        # (B, V, L_t, C) -> (B * V, L_t, C): b-major, as the teacher's B * V sequences
        return gather_tokens(pred, plan.target_ids).flatten(0, 1)

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
            RuntimeError: if the model has ``frozen_teacher=True``, or if teacher and student do
                not have the same tensors (by name).
        """
        if self.frozen_teacher:
            raise RuntimeError('update_teacher() on an SdAE with frozen_teacher=True: remove '
                               'TeacherEMAHook from custom_hooks, or set '
                               'model.frozen_teacher=False.')
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
            Tensor: ``(B * V, L_t, C)`` fp32 targets, no autograd graph; row ``b * V + v`` is
            image ``b``'s view ``v``.
        """
        with autocast(images.device.type, self.teacher_dtype):
            features = self.teacher.forward_tokens(images, plan.view_ids)  # (B*V, 1+L, C)
        # token 0 is each view's cls token; the plan puts the L_t target patches first
        return self.head.construct_target(features[:, 1:1 + plan.num_targets].float())

    @staticmethod
    def _single_view(inputs: Union[torch.Tensor, List[torch.Tensor]]) -> torch.Tensor:
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != 1:
                raise ValueError(f'SdAE takes one view per image, got {len(inputs)}: student and '
                                 'teacher read the same augmented image.')
            inputs = inputs[0]
        return inputs


def _check_options(backbone: dict, teacher_init: str, compile_loss: Union[bool, dict]) -> None:
    """Raise on SdAE arguments that no config may give (before anything is built)."""
    if teacher_init not in TEACHER_INITS:
        raise ValueError(f'Unknown teacher_init {teacher_init!r}; choose one of '
                         f'{TEACHER_INITS}.')
    if not isinstance(compile_loss, (bool, dict)):
        raise TypeError(f'compile_loss must be True/False or a dict of torch.compile '
                        f'options, got {compile_loss!r}.')
    if not isinstance(backbone, dict):
        raise TypeError('SdAE builds its teacher from the backbone config: pass `backbone` as '
                        f'a config dict, not {type(backbone).__name__}.')


def teacher_config(backbone: dict) -> dict:
    """The teacher's config: the student's, without drop path and dropout."""
    cfg = copy.deepcopy(backbone)
    cfg.update(drop_path_rate=0., drop_rate=0.)
    return cfg


def mask_generator_config(mask_generator: dict, num_patches: int) -> dict:
    """The mask generator's config with ``num_patches`` filled in from the backbone.

    Raises:
        ValueError: if the config gives another ``num_patches``.
    """
    cfg = dict(mask_generator)
    if cfg.setdefault('num_patches', num_patches) != num_patches:
        raise ValueError(f'mask_generator.num_patches={cfg["num_patches"]} but the backbone has '
                         f'{num_patches} patches; leave it unset.')
    return cfg
