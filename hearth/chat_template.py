"""Chat templates are someone else's code: a GGUF's `tokenizer.chat_template` or a model's
tokenizer_config.json is Jinja written by whoever made the file. One sandbox renders them for
export (exporter/chat_template.py) and for chat (companion/template.py), with the options
transformers uses, and with limits a stranger's template cannot get past:

- no Python internals (Jinja's immutable sandbox: no `__class__`, no list.append);
- a wall clock: `TIME_LIMIT_S` per render, checked in every call, attribute and item lookup,
  operator and `range` step, and, for loops that touch none of them, a watchdog that interrupts
  the rendering thread;
- sizes: no value the template builds (by `*`, `+`, `~`, `%`, `format`, `join`, `replace`,
  `indent`, a width or a count) and no output longer than `MAX_SIZE` characters (no list longer
  than `MAX_ITEMS`), refused *before* Python allocates it; `range` at most `MAX_RANGE` steps;
  integers at most `MAX_INT_BITS` bits.

Every failure is a `TemplateFailed` (a UserError: one line, exit 2) naming what the template did;
`raise_exception(...)` inside a template is a `TemplateRefused`.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import re
import string
import threading
import time
from datetime import datetime
from functools import lru_cache, wraps
from typing import Iterator

import jinja2
import jinja2.ext
from jinja2.compiler import CodeGenerator
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg

from hearth.errors import UserError

TIME_LIMIT_S = 2.0
WATCHDOG_GRACE_S = 0.5  # after the limit, the watchdog interrupts code no hook sees
MAX_SIZE = 4_000_000  # characters (or elements) of any value built, and of the output
MAX_ITEMS = 100_000  # elements of any one list, tuple or dict it builds (weighing them stays cheap)
MAX_RANGE = 100_000
MAX_INT_BITS = 10_000
MAX_SOURCE = 1_000_000  # characters of template text
MAX_JSON_INDENT = 64


class TemplateFailed(UserError):
    """The template is not valid Jinja, broke a limit, or failed while rendering."""

    def __init__(self, problem: str, *, where: str | None = None):
        self.problem = problem
        super().__init__(f"{problem}; fix or replace the chat template", where=where)


class TemplateRefused(UserError):
    """The template itself refused the conversation (`raise_exception(...)`)."""

    def __init__(self, reason: str, *, where: str | None = None):
        self.reason = reason
        super().__init__(f"refuses this conversation ({reason})", where=where)


class _Refusal(Exception):
    pass


class _TooLarge(jinja2.exceptions.SecurityError):
    pass


class _OutOfTime(BaseException):
    """Raised in the rendering thread when the clock runs out (BaseException: nothing swallows it)."""


class _Late(Exception):
    """The render ran out of time (an Exception again, once it has left the template)."""


_local = threading.local()  # this thread's render deadline (renders may run in several threads)


def _tick() -> None:
    deadline = getattr(_local, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise _OutOfTime


# ---- sizes ------------------------------------------------------------------------------------


def _weight(value, limit: int = MAX_SIZE) -> int:
    """Characters plus elements in `value`, counted until past `limit` (shared parts count each
    time they occur, as they would when printed)."""
    total, stack = 0, [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (list, tuple)):
            if len(item) > MAX_ITEMS:
                return limit + 1
            total += len(item)
            stack.extend(item)
        elif isinstance(item, dict):
            if len(item) > MAX_ITEMS:
                return limit + 1
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            total += 1
    return total


def _refuse_size(size: int, what: str) -> None:
    if size > MAX_SIZE:
        raise _TooLarge(f"{what} would be over {MAX_SIZE} characters (or {MAX_ITEMS} items)")


def _checked(value):
    if isinstance(value, str):
        _refuse_size(len(value), "a value it builds")
    elif isinstance(value, (list, tuple, dict)):
        _refuse_size(_weight(value), "a value it builds")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise _TooLarge(f"a number it builds would be over {MAX_INT_BITS} bits")
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_args(args, kwargs) -> None:
    for value in (*args, *kwargs.values()):
        if _is_int(value) and abs(value) > MAX_SIZE:
            raise _TooLarge(f"a width or count of {value} is over {MAX_SIZE}")


_PERCENT_SPEC = re.compile(r"%[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?")


def _formatted_size(text: str, args, kwargs, *, percent: bool) -> int:
    """What `text % args` or `text.format(...)` can build: the text plus every width and precision
    it asks for, a width taken from the arguments counted as the largest number among them."""
    if percent:
        numbers = [n for pair in _PERCENT_SPEC.findall(text) for n in pair if n]
    else:
        try:
            specs = [spec for _, field, spec, _ in string.Formatter().parse(text) if field is not None and spec]
        except ValueError:
            return len(text)  # a malformed format string fails on its own when used
        numbers = [n for spec in specs for n in re.findall(r"\d+|\{", spec)]
    given = [abs(v) for v in _flat_args(args, kwargs) if _is_int(v)]
    taken = max(given, default=0)
    return len(text) + sum(taken if n in ("*", "{") else int(n) for n in numbers)


def _flat_args(args, kwargs) -> list:
    values = [*args, *kwargs.values()]
    for value in list(values):
        if isinstance(value, (tuple, list)):
            values.extend(value)
        elif isinstance(value, dict):
            values.extend(value.values())
    return values


def _replaced_size(text: str, old="", new="", count=None) -> int:
    old, new = str(old), str(new)
    hits = text.count(old) if old else len(text) + 1
    if _is_int(count) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def _joined_size(separator, items) -> int:
    if not isinstance(items, (list, tuple, str, dict)):
        return 0  # an iterator: its result is checked after the join
    return _weight(items) + len(str(separator)) * len(items)


def _indented_size(text: str, width=4) -> int:
    per_line = len(width) if isinstance(width, str) else width if _is_int(width) else 0
    return len(text) + (text.count("\n") + 1) * per_line


def _wrapped_size(text: str, width=79, wrapstring=None) -> int:
    lines = len(text) // max(width if _is_int(width) else 1, 1) + 1
    return len(text) + lines * len(wrapstring if isinstance(wrapstring, str) else "\n")


def _bound(names: tuple[str, ...], args, kwargs) -> dict:
    """The arguments among `names` (the callee's parameters, in order) that were given."""
    given = dict(zip(names, args))
    given.update((name, kwargs[name]) for name in names if name in kwargs)
    return given


_REPLACE = ("old", "new", "count")
_WORDWRAP = ("width", "break_long_words", "wrapstring")

# What a string method would build, from (the string, its arguments), before it runs.
METHOD_SIZES = {
    "replace": lambda s, args, kwargs: _replaced_size(s, **_bound(_REPLACE, args, kwargs)),
    "join": lambda s, args, kwargs: _joined_size(s, args[0] if args else ()),
    "expandtabs": lambda s, args, kwargs: len(s) + s.count("\t") * _bound(("tabsize",), args, kwargs).get("tabsize", 8),
    "format": lambda s, args, kwargs: _formatted_size(s, args, kwargs, percent=False),
    "format_map": lambda s, args, kwargs: _formatted_size(s, args, kwargs, percent=False),
}

# The same for filters, from (the filtered value, the filter's arguments).
FILTER_SIZES = {
    "replace": lambda v, args, kwargs: _replaced_size(str(v), **_bound(_REPLACE, args, kwargs)),
    "join": lambda v, args, kwargs: _joined_size(_bound(("d",), args, kwargs).get("d", ""), v),
    "indent": lambda v, args, kwargs: _indented_size(str(v), **_bound(("width",), args, kwargs)),
    "wordwrap": lambda v, args, kwargs: _wrapped_size(
        str(v), **{k: w for k, w in _bound(_WORDWRAP, args, kwargs).items() if k != "break_long_words"}
    ),
    "format": lambda v, args, kwargs: _formatted_size(str(v), args, kwargs, percent=True),
}


def _check_method(obj, args, kwargs) -> None:
    method = getattr(obj, "__wrapped__", obj)  # the sandbox wraps str.format
    owner = getattr(method, "__self__", None)
    size = METHOD_SIZES.get(getattr(method, "__name__", ""))
    if isinstance(owner, str) and size is not None:
        _refuse_size(size(owner, args, kwargs), f"str.{method.__name__}")


def _multiplied_size(left, right) -> int:
    for sequence, times in ((left, right), (right, left)):
        if isinstance(sequence, (str, list, tuple)) and _is_int(times):
            return _weight(sequence) * max(times, 0)
    return 0


def _check_binop(operator: str, left, right) -> None:
    if operator == "*":
        _refuse_size(_multiplied_size(left, right), "a repeated text")
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise _TooLarge(f"a product would be over {MAX_INT_BITS} bits")
    elif operator == "**":
        if _is_int(left) and _is_int(right) and abs(left) > 1 and left.bit_length() * right > MAX_INT_BITS:
            raise _TooLarge(f"a power would be over {MAX_INT_BITS} bits")
    elif operator == "+":
        if isinstance(left, str) and isinstance(right, str):
            _refuse_size(len(left) + len(right), "a joined text")
        elif isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _refuse_size(_weight(left) + _weight(right), "a joined text")
    elif operator == "%" and isinstance(left, str):
        _refuse_size(_formatted_size(left, (right,), {}, percent=True), "a formatted text")


# ---- the environment --------------------------------------------------------------------------


class _Range:
    """`range` for templates: at most MAX_RANGE steps, each one on the clock."""

    def __init__(self, *args):
        self._steps = range(*args)
        if len(self._steps) > MAX_RANGE:
            raise _TooLarge(f"range() of {len(self._steps)} steps is over {MAX_RANGE}")

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self):
        for step in self._steps:
            _tick()
            yield step

    def __reversed__(self):
        return iter(_Range(self._steps.start + (len(self._steps) - 1) * self._steps.step,
                           self._steps.start - self._steps.step, -self._steps.step))

    def __getitem__(self, index):
        return self._steps[index]

    def __contains__(self, value) -> bool:
        return value in self._steps


def _raise_exception(message) -> None:
    raise _Refusal(str(message))


def _tojson(value, ensure_ascii=False, indent=None, separators=None, sort_keys=False) -> str:
    """transformers' `tojson` (non-ASCII kept), with a sane indent."""
    if _is_int(indent) and indent > MAX_JSON_INDENT or isinstance(indent, str) and len(indent) > MAX_JSON_INDENT:
        raise _TooLarge(f"tojson indent over {MAX_JSON_INDENT}")
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class GenerationTag(jinja2.ext.Extension):
    """transformers' `{% generation %}...{% endgeneration %}` marks the assistant's text for
    training masks; rendering a prompt only needs the text inside."""

    tags = {"generation"}

    def parse(self, parser):
        next(parser.stream)
        return parser.parse_statements(("name:endgeneration",), drop_needle=True)


def _guarded_filter(name: str, function):
    skip = 1 if _PassArg.from_obj(function) is not None else 0  # context/environment comes first
    size = FILTER_SIZES.get(name)

    @wraps(function)
    def guarded(*args, **kwargs):
        _tick()
        _check_args(args[skip + 1 :], kwargs)
        if size is not None and len(args) > skip:
            _refuse_size(size(args[skip], args[skip + 1 :], kwargs), f"the {name} filter")
        return _checked(function(*args, **kwargs))

    return guarded


class _CodeGenerator(CodeGenerator):
    """`a ~ b` compiles to a plain join no sandbox hook sees; route it through one."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.checked_concat((")
        for argument in node.nodes:
            self.visit(argument, frame)
            self.write(", ")
        self.write("))")


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _CodeGenerator

    def __init__(self):
        # The options transformers renders chat templates with.
        super().__init__(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, GenerationTag])
        self.filters["tojson"] = _tojson
        self.filters = {name: _guarded_filter(name, function) for name, function in self.filters.items()}
        self.globals.pop("lipsum", None)  # no chat template needs generated filler text
        self.globals.update(range=_Range, raise_exception=_raise_exception,
                            strftime_now=lambda fmt: datetime.now().strftime(str(fmt)[:200]))

    def call_binop(self, context, operator, left, right):
        _tick()
        _check_binop(operator, left, right)
        return _checked(super().call_binop(context, operator, left, right))

    @staticmethod
    def checked_concat(values) -> str:
        _tick()
        parts = [value if isinstance(value, str) else str(value) for value in values]
        _refuse_size(sum(map(len, parts)), "a joined text")
        return "".join(parts)

    def getattr(self, obj, attribute):
        _tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _tick()
        return super().getitem(obj, argument)

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 (jinja's own signature)
        _tick()
        _check_args(args, kwargs)
        _check_method(__obj, args, kwargs)
        return _checked(super().call(__context, __obj, *args, **kwargs))


_environment = _Sandbox()


@lru_cache(maxsize=32)
def _compiled(source: str) -> jinja2.Template:
    return _environment.from_string(source)


# ---- the clock ------------------------------------------------------------------------------

_set_async_exc = ctypes.pythonapi.PyThreadState_SetAsyncExc
_set_async_exc.argtypes = (ctypes.c_ulong, ctypes.c_void_p)


class _Watchdog:
    """One thread that interrupts renders running past their deadline: a loop over a long list
    with an empty body touches no hook, so only this stops it."""

    def __init__(self):
        self._wake = threading.Condition()
        self._deadlines: dict[int, float] = {}  # rendering thread -> when to interrupt it
        self._fired: set[int] = set()
        self._thread: threading.Thread | None = None

    def arm(self, limit: float) -> None:
        with self._wake:
            if self._thread is None:
                self._thread = threading.Thread(target=self._watch, name="chat-template-watchdog", daemon=True)
                self._thread.start()
            self._deadlines[threading.get_ident()] = time.monotonic() + limit
            self._wake.notify()

    def disarm(self) -> None:
        me = threading.get_ident()
        with self._wake:
            self._deadlines.pop(me, None)
            if me in self._fired:
                self._fired.discard(me)
                _set_async_exc(me, None)  # one fired but not yet delivered must not land later

    def _watch(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for thread, deadline in list(self._deadlines.items()):
                    if deadline <= now:
                        del self._deadlines[thread]
                        self._fired.add(thread)
                        _set_async_exc(thread, id(_OutOfTime))
                self._wake.wait(min(self._deadlines.values(), default=now + 60) - now)


_watchdog = _Watchdog()


# ---- rendering --------------------------------------------------------------------------------


def _problem(exc: BaseException) -> str:
    """One clause for what went wrong inside the template."""
    if isinstance(exc, (_OutOfTime, _Late)):
        return f"took longer than {TIME_LIMIT_S:g} s to render (a loop that does not end?)"
    if isinstance(exc, _TooLarge):
        return f"builds too much: {exc}"
    if isinstance(exc, jinja2.exceptions.SecurityError):
        return f"tried something the sandbox forbids ({exc})"
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"is not valid Jinja (line {exc.lineno}: {exc.message})"
    if isinstance(exc, RecursionError):
        return "recurses too deeply"
    return f"failed while rendering ({type(exc).__name__}: {exc})"


class SandboxedTemplate:
    """A chat template compiled in the sandbox. `where` names it in every error."""

    def __init__(self, source: str, *, where: str = "the chat template"):
        self.source = source
        self.where = where
        if len(source) > MAX_SOURCE:
            raise TemplateFailed(f"is {len(source)} characters long, over {MAX_SOURCE}", where=where)
        try:
            self._template = self._run(lambda: _compiled(source))
        except Exception as exc:  # the compiler, too, is fed someone else's text
            raise TemplateFailed(_problem(exc), where=where) from None

    def render(self, **variables) -> str:
        """The template's text for these variables (messages, add_generation_prompt, bos_token, ...)."""

        def collect() -> str:
            parts, size = [], 0
            for part in self._template.generate(**variables):
                size += len(part)
                if size > MAX_SIZE:
                    raise _TooLarge(f"its output would be over {MAX_SIZE} characters")
                parts.append(part)
            return "".join(parts)

        try:
            return self._run(collect)
        except _Refusal as exc:
            raise TemplateRefused(str(exc), where=self.where) from None
        except Exception as exc:
            raise TemplateFailed(_problem(exc), where=self.where) from None

    @staticmethod
    def _run(work):
        """`work()` on the clock; _OutOfTime becomes an ordinary exception for the callers above."""
        try:
            _local.deadline = time.monotonic() + TIME_LIMIT_S
            _watchdog.arm(TIME_LIMIT_S + WATCHDOG_GRACE_S)
            try:
                return work()
            finally:
                _local.deadline = None
                _watchdog.disarm()
        except _OutOfTime:
            raise _Late() from None


# ---- llama-cpp-python ---------------------------------------------------------------------------

_llama_patch = threading.Lock()


class _LlamaRender:
    """Stands where llama-cpp-python's chat formatter keeps its compiled Jinja template: compiled
    here, on first use, and rendered in this sandbox."""

    def __init__(self, source: str):
        self._source = source

    def render(self, **variables) -> str:
        for own in ("raise_exception", "strftime_now"):  # the formatter passes its own; the sandbox has bounded ones
            variables.pop(own, None)
        return SandboxedTemplate(self._source, where="the GGUF's chat template").render(**variables)


@contextlib.contextmanager
def llama_cpp_renders_in_this_sandbox() -> Iterator[None]:
    """Loading a GGUF, llama-cpp-python compiles every chat template in it with a Jinja of its own,
    which folds constants as it compiles (`'x' * 2000000000` is built right then) and has no clock.
    Chat formatters made while this is open compile nothing and render here instead."""
    from llama_cpp import llama_chat_format

    original = llama_chat_format.Jinja2ChatFormatter

    class SandboxedFormatter(original):
        def __init__(self, template: str, eos_token: str, bos_token: str, add_generation_prompt: bool = True,
                     stop_token_ids=None):
            self.template, self.eos_token, self.bos_token = template, eos_token, bos_token
            self.add_generation_prompt = add_generation_prompt
            self.stop_token_ids = set(stop_token_ids) if stop_token_ids is not None else None
            self._environment = _LlamaRender(template)

    with _llama_patch:
        llama_chat_format.Jinja2ChatFormatter = SandboxedFormatter
        try:
            yield
        finally:
            llama_chat_format.Jinja2ChatFormatter = original
