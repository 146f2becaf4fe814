"""Token-level access to timm's VisionTransformer without forking it.

The functions here run the pieces timm's ``forward_features`` runs (patch embedding, position
embedding, blocks, norm) and add what self-distillation needs: mask tokens at chosen patch
positions (iBOT, MAE-style inputs), patch tokens beside the pooled feature, and the last
block's attention weights (attention maps, attention-guided token dropping).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor


def is_vit(backbone: nn.Module) -> bool:
    return isinstance(backbone, VisionTransformer)


def require_vit(backbone: nn.Module, what: str) -> VisionTransformer:
    if not is_vit(backbone):
        raise ValueError(f"{what} needs a ViT backbone (token access); got {type(backbone).__name__}")
    return backbone


def gather_patches(patches: Tensor, keep: Tensor) -> Tensor:
    """Patch tokens (B, N, D) -> the tokens at indices ``keep`` (B, K), in that order: (B, K, D)."""
    return patches.gather(1, keep.unsqueeze(-1).expand(-1, -1, patches.shape[-1]))


def embed_tokens(vit: VisionTransformer, x: Tensor, mask: Tensor | None = None, mask_token: Tensor | None = None, keep: Tensor | None = None) -> Tensor:
    """Images (B, C, H, W) -> input tokens (B, P + N, D) with P prefix ([CLS]) tokens.

    ``mask`` (B, N) bool puts ``mask_token`` (D,) in place of the masked patch embeddings,
    before the position embedding is added (as iBOT does). ``keep`` (B, K) patch indices keeps
    only those patches, after the position embedding (token dropping): (B, P + K, D).
    """
    t = vit.patch_embed(x)  # (B, h, w, D) with dynamic image size, else (B, N, D)
    if mask is not None:
        if mask_token is None:
            raise ValueError("a mask needs a mask_token")
        t = torch.where(mask.view(*t.shape[:-1], 1), mask_token.to(t.dtype), t)
    t = vit._pos_embed(t)
    if keep is not None:
        p = vit.num_prefix_tokens
        t = torch.cat([t[:, :p], gather_patches(t[:, p:], keep)], dim=1)
    t = vit.patch_drop(t)
    return vit.norm_pre(t)


def forward_tokens(vit: VisionTransformer, x: Tensor, mask: Tensor | None = None, mask_token: Tensor | None = None, keep: Tensor | None = None) -> Tensor:
    """Images (B, C, H, W) -> output tokens (B, P + N, D) after the final norm, or (B, P + K, D)
    for the patches ``keep`` (B, K) only."""
    return vit.norm(vit.blocks(embed_tokens(vit, x, mask, mask_token, keep)))


def forward_tokens_and_cls_attention(vit: VisionTransformer, x: Tensor) -> tuple[Tensor, Tensor]:
    """One pass: images (B, C, H, W) -> output tokens (B, P + N, D) and the last block's
    [CLS] -> patch attention averaged over heads (B, N)."""
    _require_cls(vit)
    t = _input_of_last_block(vit, x)
    attn = block_attention(vit.blocks[-1], t)[:, :, 0, vit.num_prefix_tokens :].mean(dim=1)
    return vit.norm(vit.blocks[-1](t)), attn


def image_tokens(backbone: nn.Module, x: Tensor) -> tuple[Tensor, Tensor]:
    """Any timm backbone: images (B, C, H, W) -> tokens (B, T, D) and the pooled feature (B, D)
    that ``backbone(x)`` returns. A ViT's tokens are its output tokens; a CNN's are the h*w
    positions of its last feature map."""
    feats = backbone.forward_features(x)  # ViT (B, T, D); CNN (B, D, h, w)
    pooled = backbone.forward_head(feats, pre_logits=True)
    return (feats if feats.ndim == 3 else feats.flatten(2).transpose(1, 2)), pooled


def pool(vit: VisionTransformer, tokens: Tensor) -> Tensor:
    """Output tokens (B, P + N, D) -> the backbone's own feature (B, D), the one ``vit(x)`` returns."""
    return vit.forward_head(tokens, pre_logits=True)


def patch_tokens(vit: VisionTransformer, tokens: Tensor) -> Tensor:
    """Output tokens (B, P + N, D) -> patch tokens (B, N, D)."""
    return tokens[:, vit.num_prefix_tokens :]


def block_attention(block: nn.Module, tokens: Tensor) -> Tensor:
    """A timm ``Block``'s attention weights for its input ``tokens`` (B, T, D): (B, heads, T, T).

    Recomputed from the block's own qkv projection and norms; each row sums to 1.
    """
    attn = block.attn
    h = block.norm1(tokens)
    b, t, _ = h.shape
    qkv = attn.qkv(h).reshape(b, t, 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
    q, k, _ = qkv.unbind(0)  # (B, heads, T, head_dim)
    q, k = attn.q_norm(q), attn.k_norm(k)
    return ((q * attn.scale) @ k.transpose(-2, -1)).softmax(dim=-1)


def last_block_attention(vit: VisionTransformer, x: Tensor) -> Tensor:
    """Images (B, C, H, W) -> the last block's attention (B, heads, T, T), T = P + N tokens."""
    return block_attention(vit.blocks[-1], _input_of_last_block(vit, x))


def cls_attention(vit: VisionTransformer, x: Tensor) -> Tensor:
    """Images (B, C, H, W) -> the last block's [CLS] -> patch attention (B, heads, N).

    The [CLS] row also gives weight to the prefix tokens, so these sum to at most 1.
    """
    _require_cls(vit)
    return last_block_attention(vit, x)[:, :, 0, vit.num_prefix_tokens :]


def _input_of_last_block(vit: VisionTransformer, x: Tensor) -> Tensor:
    t = embed_tokens(vit, x)
    for block in vit.blocks[:-1]:
        t = block(t)
    return t


def _require_cls(vit: VisionTransformer) -> None:
    if vit.cls_token is None:
        raise ValueError("[CLS] attention needs a ViT with a [CLS] token (class_token=True)")


def grid_size(vit: VisionTransformer, x: Tensor) -> tuple[int, int]:
    """The patch grid (h, w) of images ``x`` (B, C, H, W)."""
    ph, pw = vit.patch_embed.patch_size
    return x.shape[-2] // ph, x.shape[-1] // pw
