"""``%load_ext sora_nb`` and ``%unload_ext sora_nb``.

With no gateway configured (no ``SORA_BASE_URL``, no ``SoraMagics.base_url``), loading starts
the built-in emulator on loopback and says so in one line, so every tutorial runs offline.
"""

from __future__ import annotations

from typing import Any

from .magics import SoraCellError, SoraMagics

_state: dict[int, SoraMagics] = {}


def _one_line_error(shell: Any, etype: type, value: BaseException, tb: Any,
                    tb_offset: int | None = None) -> list[str]:
    # A gateway refusal or a failed job is not a bug in the user's code: one line, no traceback.
    line = f"{etype.__name__}: {value}"
    shell._showtraceback(etype, value, [line])
    return [line]


def load(shell: Any) -> SoraMagics:
    if id(shell) in _state:
        return _state[id(shell)]
    magics = SoraMagics(shell=shell)
    shell.register_magics(magics)
    shell.set_custom_exc((SoraCellError,), _one_line_error)
    _state[id(shell)] = magics
    if not magics.base_url:
        _start_emulator(magics)
    return magics


def _start_emulator(magics: SoraMagics) -> None:
    try:
        from ..emulator import serve
    except ImportError:
        print("sora_nb: no gateway configured. Set SORA_BASE_URL (and SORA_API_KEY), or "
              "install the built-in emulator: pip install 'sora_nb[emulator]'")
        return
    context = serve(job_seconds=magics.emulator_job_seconds, seed=magics.emulator_seed,
                    concurrency=4)
    emulator = context.__enter__()
    magics.emulator = (context, emulator)
    magics.base_url = emulator.base_url
    print(f"sora_nb: no gateway configured, so the built-in emulator is serving at "
          f"{emulator.base_url} (no key needed; set SORA_BASE_URL to use a real gateway)")


def unload(shell: Any) -> None:
    magics = _state.pop(id(shell), None)
    if magics is None:
        return
    magics._drop_client()
    if magics.emulator is not None:
        context, _ = magics.emulator
        context.__exit__(None, None, None)
        magics.emulator = None
    shell.set_custom_exc((), None)
    for kind in ("line", "cell"):
        for name in list(shell.magics_manager.magics[kind]):
            if name.startswith("sora_") and getattr(
                    shell.magics_manager.magics[kind][name], "__self__", None) is magics:
                del shell.magics_manager.magics[kind][name]
