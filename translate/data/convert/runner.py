"""Running a conversion: it plans one :class:`_Task` per input (or pair), and :func:`_execute` runs
them on a thread pool behind a progress bar. Before starting it skips a task that would write
another's output file, creates the output folder, refuses subfolders that lead out of it and clears
the temp files a killed run left; then it collects counts and skipped inputs into a
:class:`ConvertReport`. A write failure that is not about one file stops the run (the record is
flushed first). Torch-free.
"""

from __future__ import annotations

import contextlib
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from tqdm import tqdm

from translate.data.convert.outputs import ConvertOptions, ConvertReport, _OutputError, _Outputs, _Record
from translate.errors import TranslateError
from translate.resilience import remove_stale_temp_files_of


# --------------------------------------------------------------------------------------------
# The runner


@dataclass
class _Task:
    """One unit of work: ``run`` makes the files for one input (or pair).

    ``outputs`` are the files it will write when known up front (skipped as a whole by
    ``resume`` when the record lists them all unchanged); ``claims`` are the paths no other task may write.
    """

    source: str
    run: Callable[[_Outputs], None]
    outputs: tuple[Path, ...] = ()
    claims: tuple[Path, ...] = ()


def _execute(action: str, out: Path, tasks: list[_Task], options: ConvertOptions,
             skipped: Iterable[tuple[str, str]] = ()) -> ConvertReport:
    """Run ``tasks`` on a thread pool with a progress bar; collect counts and skipped inputs."""
    report = ConvertReport(action=action, output=out, skipped=list(skipped))
    owner: dict[Path, str] = {}
    runnable = []
    for task in tasks:
        clash = next((owner[p] for p in task.claims or task.outputs if p in owner), None)
        if clash is not None:
            report.skipped.append((task.source, f"would write the same output file as {clash}; rename one of them"))
            continue
        owner.update((p, task.source) for p in task.claims or task.outputs)
        runnable.append(task)

    start = time.perf_counter()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:  # read-only, a file on the path, a name too long
        raise TranslateError(f"cannot create the output folder {out}: {e.strerror or e}; choose another output "
                             f"folder") from None
    real_out = out.resolve()
    for folder in sorted({p.parent for task in runnable for p in (*task.outputs, *task.claims)}):
        real = folder.resolve()
        if real != real_out and real_out not in real.parents:
            raise TranslateError(f"{folder} leads outside the output folder {out} (a symbolic link?); remove it or "
                                 f"choose another output folder")
    record = _Record(out)
    # temp files a kill -9 left beside these outputs (only atomic_writer's names for exactly them)
    remove_stale_temp_files_of(p for task in runnable for p in task.outputs)
    pool = ThreadPoolExecutor(max_workers=options.threads)
    try:
        futures: dict[Future, _Task] = {pool.submit(_run_task, task, options, record): task for task in runnable}
        with tqdm(total=len(futures), desc=f"convert {action}", unit="img", disable=not options.progress,
                  dynamic_ncols=True) as bar:
            for future in as_completed(futures):
                task = futures[future]
                try:
                    written, kept = future.result()
                except _OutputError:
                    raise
                except TranslateError as e:
                    report.skipped.append((task.source, str(e)))
                else:
                    report.files_written += written
                    if written:
                        report.converted += 1
                    elif kept:
                        report.already_done += 1
                bar.update()
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # running tasks finish their atomic writes
        with contextlib.suppress(OSError):  # (a full disk must not hide the error that stopped the run)
            record.flush()
        raise
    pool.shutdown(wait=True)
    record.flush()
    report.seconds = time.perf_counter() - start
    report.skipped.sort()
    return report


def _run_task(task: _Task, options: ConvertOptions, record: _Record) -> tuple[int, int]:
    outputs = _Outputs(options, record)
    if not (task.outputs and outputs.done(task.outputs)):
        task.run(outputs)
    return outputs.written, outputs.kept
