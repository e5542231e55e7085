"""The offline engine: a GGUF model in llama-cpp-python, streaming a reply to a conversation.

The prompt is rendered with the GGUF's own chat template and tokenized here, then handed to
llama-cpp-python's token-level generator, which keeps the KV cache for the longest prefix shared
with the previous call — so a conversation whose beginning does not change (see budget.py) only
pays for its newest turn. Generation stops on the model's end-of-generation tokens (llama.cpp's
EOG set: `<|im_end|>`, `<|endoftext|>`, `<|eot_id|>`, …), at the reply's length limit, at the end of
the context, or when the caller sets the cancel event.
"""

from __future__ import annotations

import codecs
import ctypes
import functools
import random
import threading
import time
from dataclasses import dataclass
from typing import Iterator

from hearth.chat_template import llama_cpp_renders_in_this_sandbox
from hearth.errors import UserError
from hearth.llama import LENGTH, STOP, install_log_sink, recent_log, silenced_stderr
from hearth.verbosity import verbose

from companion.reasoning import Chunk, ReasoningSplitter, prompt_opens_reasoning
from companion.settings import EngineSettings
from companion.template import ChatTemplate

# Why a reply ended (STOP and LENGTH as llama.cpp says them, hearth.llama), and what a front end says under a
# reply that did not end by itself.
CANCELLED = "cancelled"
FINISH_NOTES = {LENGTH: "cut at the length limit", CANCELLED: "stopped"}


@dataclass
class Reply:
    text: str
    reasoning: str
    finish_reason: str  # STOP, LENGTH or CANCELLED
    prompt_tokens: int
    reused_tokens: int  # prompt tokens whose KV cache was kept from the previous call
    completion_tokens: int
    ttft_s: float  # from the call to the first generated token
    tokens_per_s: float | None  # generation speed after the first token
    total_s: float

    def stats(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "reused_tokens": self.reused_tokens,
            "completion_tokens": self.completion_tokens,
            "ttft_s": round(self.ttft_s, 4),
            "tokens_per_s": round(self.tokens_per_s, 2) if self.tokens_per_s else None,
            "total_s": round(self.total_s, 4),
            "finish_reason": self.finish_reason,
        }


@dataclass
class Prompt:
    text: str
    tokens: list[int]
    opens_reasoning: bool


class ReplyStream:
    """Iterate for chunks; `reply` is filled in once the iteration ends (however it ends)."""

    def __init__(self, engine: "Engine", prompt: Prompt, cancel: threading.Event, max_tokens: int):
        self._engine = engine
        self._prompt = prompt
        self.cancel_event = cancel
        self._max_tokens = max_tokens
        self.reply: Reply | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def __iter__(self) -> Iterator[Chunk]:
        return self._engine._generate(self)

    def consume(self) -> Reply:
        for _ in self:
            pass
        return self.reply


def _common_prefix(a, b) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


class Engine:
    def __init__(self, settings: EngineSettings):
        if settings.model_path is None:
            raise UserError("no model given; name a GGUF file or a run with --model")
        for label, path in (("model", settings.model_path), ("LoRA adapter", settings.lora_path)):
            if path is not None and not path.is_file():
                raise UserError(f"{label} file not found; check the path", where=str(path))
        self.settings = settings
        self._llm = self._load(settings)
        self._vocab = self._llm._model.vocab
        self._pieces: dict[int, bytes] = {}
        # Per instance (not on the method) so the cache does not keep a closed engine alive.
        self.count_text = functools.lru_cache(maxsize=8192)(self._count_text)
        self._busy = threading.Lock()
        metadata = self._llm.metadata
        self.template = ChatTemplate(
            metadata.get("tokenizer.chat_template"),
            bos_token=self._token_text(self._llm.token_bos()),
            eos_token=self._token_text(self._llm.token_eos()),
        )
        self._add_bos = bool(self._llm._model.add_bos_token()) and self._llm.token_bos() >= 0
        probe = [{"role": "user", "content": "…"}]
        self._generation_opens_reasoning = prompt_opens_reasoning(self.template.generation_prompt(probe))
        self.model_name = metadata.get("general.name") or settings.model_path.stem

    @staticmethod
    def _load(settings: EngineSettings):
        install_log_sink()
        from llama_cpp import Llama

        kwargs = dict(
            model_path=str(settings.model_path),
            n_ctx=settings.n_ctx,
            n_batch=min(settings.n_batch, settings.n_ctx),
            n_threads=settings.threads,
            n_threads_batch=settings.threads,
            n_gpu_layers=settings.gpu_layers,
            verbose=verbose(),
        )
        if settings.lora_path is not None:
            kwargs.update(lora_path=str(settings.lora_path), lora_scale=settings.lora_scale)
        try:
            with silenced_stderr(), llama_cpp_renders_in_this_sandbox():
                return Llama(**kwargs)
        except (ValueError, RuntimeError) as exc:
            said = recent_log()
            raise UserError(
                f"llama.cpp could not load it ({exc}"
                + (f"; llama.cpp said: {said}" if said else "")
                + "); check that it is a GGUF model (and the adapter was exported for this model)",
                where=str(settings.model_path),
            ) from None

    # -- tokens ---------------------------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        """The context the settings asked for (llama.cpp may allocate a little more, rounded up)."""
        return min(self.settings.n_ctx, self._llm.n_ctx())

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        import llama_cpp

        return llama_cpp.llama_vocab_get_text(self._vocab, token).decode("utf-8", errors="replace")

    def _piece(self, token: int) -> bytes:
        """The bytes a generated token stands for (control tokens stand for nothing)."""
        piece = self._pieces.get(token)
        if piece is None:
            import llama_cpp

            buffer = ctypes.create_string_buffer(64)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            if n < 0:
                buffer = ctypes.create_string_buffer(-n)
                n = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, len(buffer), 0, False)
            piece = self._pieces[token] = buffer.raw[:n]
        return piece

    def is_end_of_generation(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def tokenize(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def _count_text(self, text: str) -> int:
        """Tokens in a plain text (a message's content); cached, as history is counted every turn."""
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prompt(self, messages: list[dict]) -> Prompt:
        text = self.template.render(messages, add_generation_prompt=True)
        tokens = self.tokenize(text)
        bos = self._llm.token_bos()
        if self._add_bos and (not tokens or tokens[0] != bos):
            tokens = [bos] + tokens
        return Prompt(text, tokens, self._generation_opens_reasoning)

    def count_prompt(self, messages: list[dict]) -> int:
        return len(self.prompt(messages).tokens)

    # -- generation -----------------------------------------------------------------------------

    def stream(
        self, messages: list[dict], cancel: threading.Event | None = None, max_tokens: int | None = None
    ) -> ReplyStream:
        prompt = self.prompt(messages)
        room = self.n_ctx - len(prompt.tokens)
        if room <= 0:
            raise UserError(
                f"the prompt takes {len(prompt.tokens)} tokens, the whole {self.n_ctx}-token context; "
                "fit the conversation with companion.budget first"
            )
        limit = min(max_tokens or self.settings.max_reply_tokens, room)
        return ReplyStream(self, prompt, cancel or threading.Event(), limit)

    def complete(self, messages: list[dict], **kwargs) -> Reply:
        return self.stream(messages, **kwargs).consume()

    def _generate(self, stream: ReplyStream) -> Iterator[Chunk]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("this engine is already generating a reply; one at a time")
        try:
            yield from self._generate_locked(stream)
        finally:
            self._busy.release()

    def _generate_locked(self, stream: ReplyStream) -> Iterator[Chunk]:
        llm, s, prompt = self._llm, self.settings, stream._prompt
        reused = _common_prefix(llm._input_ids.tolist(), prompt.tokens)
        llm.set_seed(s.seed if s.seed >= 0 else random.randrange(2**31))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        splitter = ReasoningSplitter(start_in_reasoning=prompt.opens_reasoning)
        started = time.perf_counter()
        first_at = last_at = None
        received = generated = 0
        finish = LENGTH
        tokens = llm.generate(
            prompt.tokens,
            temp=s.temperature,
            top_k=s.top_k,
            top_p=s.top_p,
            min_p=s.min_p,
            repeat_penalty=s.repeat_penalty,
        )
        try:
            for token in tokens:
                last_at = time.perf_counter()
                first_at = first_at or last_at
                received += 1
                if self.is_end_of_generation(token):
                    finish = STOP
                    break
                generated += 1
                text = decoder.decode(self._piece(token))
                if text:
                    yield from splitter.feed(text)
                if stream.cancel_event.is_set():
                    finish = CANCELLED
                    break
                if generated >= stream._max_tokens:
                    break
            yield from splitter.feed(decoder.decode(b"", final=True))
            yield from splitter.finish()
        except GeneratorExit:  # the caller stopped reading: that is a cancel too
            finish = CANCELLED
            raise
        finally:
            tokens.close()
            splitter.finish()
            ended = time.perf_counter()
            if stream.cancel_event.is_set() and finish != STOP:
                finish = CANCELLED
            stream.reply = Reply(
                text=splitter.answer,
                reasoning=splitter.reasoning,
                finish_reason=finish,
                prompt_tokens=len(prompt.tokens),
                reused_tokens=reused,
                completion_tokens=generated,
                ttft_s=(first_at or ended) - started,
                tokens_per_s=(received - 1) / (last_at - first_at) if received > 1 and last_at > first_at else None,
                total_s=ended - started,
            )

    def close(self) -> None:
        self._llm.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
