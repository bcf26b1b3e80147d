"""``%load_ext sora_nb`` and ``%unload_ext sora_nb``.

With no gateway configured (no ``SORA_BASE_URL``, no ``SoraMagics.base_url``), loading starts
the built-in emulator on loopback and says so in one line, so every tutorial runs offline.
"""

from __future__ import annotations

from typing import Any

from .. import builtin
from ..config import AUTO
from .magics import SoraCellError, SoraMagics

_state: dict[int, SoraMagics] = {}


_saved_handlers: dict[int, tuple[tuple[type, ...], Any]] = {}


def _install_error_line(shell: Any) -> None:
    """Show SoraCellError as one line (a gateway refusal is not a bug in the user's code),
    keeping any handler another extension installed for its own exceptions."""
    previous_types, previous = shell.custom_exceptions, getattr(shell, "CustomTB", None)
    _saved_handlers[id(shell)] = (previous_types, previous)

    def handler(
        sh: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None
    ) -> list[str]:
        if issubclass(etype, SoraCellError):
            line = f"{etype.__name__}: {value}"
            sh._showtraceback(etype, value, [line])
            return [line]
        if previous is not None and previous_types:
            return previous(etype, value, tb, tb_offset=tb_offset)
        sh.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return []

    shell.set_custom_exc((*previous_types, SoraCellError), handler)


def _restore_error_handler(shell: Any) -> None:
    previous_types, previous = _saved_handlers.pop(id(shell), ((), None))
    shell.custom_exceptions = previous_types
    if previous is not None:
        shell.CustomTB = previous


def current(shell: Any = None) -> SoraMagics | None:
    """The loaded extension of ``shell`` (default: the running IPython), or None."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    return _state.get(id(shell)) if shell is not None else None


def load(shell: Any) -> SoraMagics:
    if id(shell) in _state:
        return _state[id(shell)]
    magics = SoraMagics(shell=shell)
    shell.register_magics(magics)
    _install_error_line(shell)
    _state[id(shell)] = magics
    if not magics.base_url:
        _start_emulator(magics)
    else:
        key = magics.api_key()
        print(
            f"sora_nb: gateway {magics.base_url} ({magics.dialect} dialect; key from "
            f"${magics.api_key_env}: {'set' if key else 'not set'})"
        )
        if magics.dialect == AUTO:  # the client asks the relay now, and says what it found
            found = magics.session.probed(magics.settings())
            if found is not None:
                print(f"sora_nb: {found.line()}")
    return magics


def _start_emulator(magics: SoraMagics) -> None:
    try:
        emulator = builtin.start(
            job_seconds=magics.emulator_job_seconds, seed=magics.emulator_seed, concurrency=4
        )
    except ImportError:
        print(
            "sora_nb: no gateway configured. Set SORA_BASE_URL (and SORA_API_KEY), or "
            "install the built-in emulator: pip install 'sora_nb[emulator]'"
        )
        return
    magics.session.emulator = emulator
    magics.base_url = emulator.base_url
    print(
        f"sora_nb: no gateway configured, so the built-in emulator is serving at "
        f"{emulator.base_url} (no key needed; set SORA_BASE_URL to use a real gateway)"
    )


def unload(shell: Any) -> None:
    magics = _state.pop(id(shell), None)
    if magics is None:
        return
    magics.session.close()
    from . import players

    players.close_all()  # the videos' bytes leave the kernel with their widgets
    if magics.session.emulator is not None:
        builtin.stop(magics.session.emulator)
        magics.session.emulator = None
    _restore_error_handler(shell)
    if magics in getattr(shell, "configurables", []):
        shell.configurables.remove(magics)
    for kind in ("line", "cell"):
        for name in list(shell.magics_manager.magics[kind]):
            if (
                name.startswith("sora_")
                and getattr(shell.magics_manager.magics[kind][name], "__self__", None) is magics
            ):
                del shell.magics_manager.magics[kind][name]
