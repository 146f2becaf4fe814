"""AttnDrop, selfsup's combined method: DINO's [CLS] self-distillation, iBOT-style patch
distillation at the tokens the student keeps, attention-guided token dropping, and MAE-style
pixel reconstruction of the dropped patches. Every part has a switch, so the ablations are
runs of this one method (see ``selfsup study attndrop``)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..config import AttnDropConfig, ModelConfig
from ..losses import masked_patch_loss, reconstruction_loss
from ..models.decoder import PixelDecoder, patchify
from ..models.token_drop import POLICIES, check_keep_ratio, forward_kept, kept_mask
from ..models.tokens import forward_tokens_and_cls_attention, gather_patches, grid_size, patch_tokens, pool, require_vit
from .base import Batch
from .distill import SelfDistillation, count_global_views


class AttnDrop(SelfDistillation):
    """The EMA teacher sees the full global views and ranks patches by its last-block [CLS]
    attention (mean over heads); the student sees [CLS] + the top ``keep_ratio`` of patches.

    loss = w_cls * L_cls (DINO, multi-crop; local views in full) + w_patch * L_patch (patch
    head on the kept student tokens vs the teacher's tokens at the same positions) + w_recon *
    L_recon (decoder -> pixels of the dropped patches). ``keep_ratio=1.0`` keeps every token
    and so turns reconstruction off; ``drop_policy`` swaps the attention ranking for random or
    lowest-attention choices.
    """

    def __init__(self, backbone: nn.Module, cfg: AttnDropConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        require_vit(backbone, "AttnDrop")
        check_keep_ratio(cfg.keep_ratio)
        if cfg.drop_policy not in POLICIES:
            raise ValueError(f"unknown method.drop_policy '{cfg.drop_policy}'; valid: {', '.join(POLICIES)}")
        super().__init__(backbone, cfg, total_steps, steps_per_epoch, with_patch_head=cfg.w_patch > 0)
        self.decoder = None
        if cfg.keep_ratio < 1.0 and cfg.w_recon > 0:
            self.decoder = PixelDecoder.for_vit(backbone, cfg.decoder_dim, cfg.decoder_depth, cfg.decoder_heads)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        views = batch.views
        cfg = self.cfg
        g = count_global_views(views)
        b = views[0].shape[0]
        globals_ = torch.cat(views[:g])  # (G*B, C, H, W)
        with torch.no_grad():
            t_tokens, t_attn = forward_tokens_and_cls_attention(self.teacher[0], globals_)  # (G*B, P + N, D), (G*B, N)
            t_probs = self.cls_targets(pool(self.teacher[0], t_tokens), g, step)  # (G, B, K)
        s_tokens, keep = forward_kept(self.backbone, globals_, t_attn, cfg.keep_ratio, cfg.drop_policy)  # (G*B, P + K', D), (G*B, K')
        s_feat = pool(self.backbone, s_tokens)
        cls, out = self.cls_loss(t_probs, s_feat, views[g:])
        loss = cfg.w_cls * cls
        if keep is not None:
            out["kept_attention"] = t_attn.gather(1, keep).sum(1).div(t_attn.sum(1)).mean()
        loss = loss + self.koleo_term(s_feat, g, out)
        if self.with_patch_head:
            t_patches = patch_tokens(self.teacher[0], t_tokens)  # (G*B, N, D)
            if keep is not None:
                t_patches = gather_patches(t_patches, keep)  # (G*B, K', D)
            s_patches = patch_tokens(self.backbone, s_tokens)  # (G*B, K', D)
            with torch.no_grad():
                t_patch_probs = self.patch_targets(self.teacher[2](t_patches.flatten(0, 1)), self.patch_teacher_temp(step))
            every = torch.ones(s_patches.shape[:2], dtype=torch.bool, device=s_patches.device)
            patch = masked_patch_loss(self.patch_head(s_patches.flatten(0, 1)), t_patch_probs, every, cfg.student_temp)
            out["patch_loss"] = patch.detach()
            loss = loss + cfg.w_patch * patch
        if self.decoder is not None:
            grid = grid_size(self.backbone, globals_)
            pred = self.decoder(s_tokens, keep, grid)  # (G*B, N, p*p*C)
            target = patchify(globals_, self.backbone.patch_embed.patch_size[0])
            recon = reconstruction_loss(pred, target, ~kept_mask(keep, grid[0] * grid[1]), cfg.norm_pix_loss)
            out["recon_loss"] = recon.detach()
            loss = loss + cfg.w_recon * recon
        out["loss"] = loss
        out["features"] = s_feat[:b].detach()
        return out
