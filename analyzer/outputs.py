"""Output locations checked before the work starts: a folder or file that cannot be written is one
message naming the option and the fix (`OutputPathError`), not a traceback after an hour of reading.

Used by the analyzer's commands (`--output`, the container's `output_path`) and `workshop report --out`.
"""

from __future__ import annotations

import os

from contract.errors import OutputPathError


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


def output_folder(path: str | os.PathLike, option: str) -> str:
    """`path` as a folder that exists and can be written (created with its parents if missing)."""
    folder = os.fspath(path)
    if not folder:
        raise OutputPathError(f"{option} is empty: give a folder path (it is created if missing)")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise OutputPathError(f"{option} {folder} is an existing file, not a folder: give a folder path (it is "
                              "created if missing), or move the file away")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise OutputPathError(f"{option} {folder}: the folder cannot be created ({_reason(error)}); give a folder "
                              "under one you can write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {folder}: the folder is not writable; give a folder you can write to, "
                              "or change its permissions")
    return folder


def output_file(path: str | os.PathLike, option: str) -> str:
    """`path` as a file that can be written: not a folder, its folder created if missing."""
    file = os.fspath(path)
    if os.path.isdir(file):
        raise OutputPathError(f"{option} {file} is a folder: give a file path, such as "
                              f"{os.path.join(file, 'report.html')}")
    if os.path.exists(file) and not os.access(file, os.W_OK):
        raise OutputPathError(f"{option} {file} exists and is not writable; give another file path, or change its "
                              "permissions")
    output_folder(os.path.dirname(os.path.abspath(file)), f"{option} {file}: its folder")
    return file
