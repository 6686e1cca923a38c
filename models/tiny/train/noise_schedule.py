"""Stable Diffusion 1.x's training noise schedule and a DDIM sampler for the tool's own evaluation."""
import torch

TRAIN_STEPS = 1000
BETA_START, BETA_END = 0.00085, 0.012


def alphas_cumprod():
    # scaled_linear, computed in float32 exactly as diffusers does.
    betas = torch.linspace(BETA_START ** 0.5, BETA_END ** 0.5, TRAIN_STEPS, dtype=torch.float32) ** 2
    return torch.cumprod(1.0 - betas, dim=0)


@torch.no_grad()
def ddim_sample(unet, cond, uncond, shape, steps, guidance, generator):
    """Deterministic DDIM (eta 0) with SD's 'leading' spacing, steps_offset 1, set_alpha_to_one false.

    `cond` and `uncond` are the UNet's conditioning inputs after sample and timestep: one tensor
    (SD: encoder_hidden_states) or a tuple of them (SDXL: hidden states, text_embeds, time_ids)."""
    acp = alphas_cumprod()
    ratio = TRAIN_STEPS // steps
    timesteps = [i * ratio + 1 for i in reversed(range(steps))]
    x = torch.randn(shape, generator=generator)
    cond = cond if isinstance(cond, tuple) else (cond,)
    uncond = uncond if isinstance(uncond, tuple) else (uncond,)
    ctx = tuple(torch.cat([u, c]) for u, c in zip(uncond, cond)) if guidance != 1.0 else cond
    for t in timesteps:
        inp = torch.cat([x, x]) if guidance != 1.0 else x
        eps = unet(inp, torch.tensor([t]), *ctx)
        if guidance != 1.0:
            e_u, e_c = eps.chunk(2)
            eps = e_u + guidance * (e_c - e_u)
        a_t = acp[t]
        a_prev = acp[t - ratio] if t - ratio >= 0 else acp[0]
        x0 = (x - (1 - a_t).sqrt() * eps) / a_t.sqrt()
        x = a_prev.sqrt() * x0 + (1 - a_prev).sqrt() * eps
    return x
