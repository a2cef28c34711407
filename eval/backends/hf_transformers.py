"""Small local models through Hugging Face transformers (CPU or one GPU), for smoke tests and tiny
checkpoints where starting vLLM is not worth it. torch and transformers are imported lazily.

Requests are batched by seed: ``torch.manual_seed(seed)`` before each batch makes a repeat
reproducible on the same hardware and batch size (not bit-identical to vLLM's sampler). Sampling uses
the request's temperature and top_p only, as vLLM's ``SamplingParams`` does: transformers' default
top-k of 50 (and a model's own top_k / repetition_penalty) are switched off.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from thoughtmill.eval.errors import missing_dependency
from thoughtmill.eval.types import Generation, GenerationRequest


class TransformersModel:
    """A causal LM loaded with ``AutoModelForCausalLM``; the chat template is the tokenizer's."""

    def __init__(
        self,
        model: str,
        *,
        device: str | None = None,
        dtype: str = "auto",
        batch_size: int = 8,
        trust_remote_code: bool = False,
        name: str | None = None,
    ) -> None:
        self.model_id = model
        self.name = name or model
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size
        self.trust_remote_code = trust_remote_code
        self._loaded: tuple[Any, Any] | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "backend": "transformers",
            "model": self.model_id,
            "device": self.device,
            "dtype": self.dtype,
            "batch_size": self.batch_size,
        }

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise missing_dependency(
                    "transformers", "tokenizer", "the transformers eval backend"
                ) from exc
            tokenizer = AutoTokenizer.from_pretrained(self.model_id, trust_remote_code=self.trust_remote_code)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            dtype = self.dtype if self.dtype == "auto" else getattr(torch, self.dtype)
            model = AutoModelForCausalLM.from_pretrained(
                self.model_id, dtype=dtype, trust_remote_code=self.trust_remote_code
            )
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._loaded = (tokenizer, model.to(device).eval())
            self.device = device
        return self._loaded

    def generate(
        self, requests: Sequence[GenerationRequest]
    ) -> Iterator[tuple[GenerationRequest, Generation]]:
        if not requests:
            return
        import torch

        tokenizer, model = self._load()
        eos = model.generation_config.eos_token_id
        stop_ids = {tokenizer.eos_token_id, *(eos if isinstance(eos, list) else [eos])} - {None}
        groups: dict[tuple, list[GenerationRequest]] = defaultdict(list)
        for request in requests:
            s = request.sampling
            groups[(s.seed, s.temperature, s.top_p, s.max_new_tokens)].append(request)
        for (seed, temperature, top_p, max_new), group in groups.items():
            for start in range(0, len(group), self.batch_size):
                batch = group[start : start + self.batch_size]
                texts = [
                    tokenizer.apply_chat_template(
                        list(r.messages), tokenize=False, add_generation_prompt=True
                    )
                    for r in batch
                ]
                encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(
                    self.device
                )
                if seed is not None:
                    torch.manual_seed(seed)
                sample = temperature > 0
                with torch.no_grad():
                    out = model.generate(
                        **encoded,
                        do_sample=sample,
                        temperature=temperature if sample else None,
                        top_p=top_p if sample else None,
                        top_k=0 if sample else None,
                        repetition_penalty=1.0,
                        max_new_tokens=max_new,
                        pad_token_id=tokenizer.pad_token_id,
                    )
                prompt_len = encoded["input_ids"].shape[1]
                prompt_counts = encoded["attention_mask"].sum(dim=1).tolist()
                for request, row, n_prompt in zip(batch, out, prompt_counts, strict=True):
                    # a row ends at its first stop token (kept, as vLLM counts it); generate pads after it
                    new = row[prompt_len:].tolist()
                    end = next((i + 1 for i, t in enumerate(new) if t in stop_ids), None)
                    ids = new[:end]
                    yield (
                        request,
                        Generation(
                            content=tokenizer.decode(ids, skip_special_tokens=True),
                            finish_reason="length" if end is None else "stop",
                            prompt_tokens=int(n_prompt),
                            completion_tokens=len(ids),
                        ),
                    )
