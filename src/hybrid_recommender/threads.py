"""Torch's CPU thread count, set once per run from ``face_models.num_threads`` (the machine may be shared)."""

from __future__ import annotations

from kedro.framework.hooks import hook_impl


class TorchThreadsHook:
    @hook_impl
    def after_context_created(self, context) -> None:
        threads = context.params["face_models"]["num_threads"]
        if threads:   # null: torch's own default (every core)
            import torch   # here, not at import: `kedro --help` need not load torch

            torch.set_num_threads(int(threads))
