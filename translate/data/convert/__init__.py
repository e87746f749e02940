"""Dataset folder conversion: turn folders of images into the layouts the recipes read, and check them.

No torch here (numpy + OpenCV + tqdm). Every command follows the same rules:

- the inputs are only read: nothing is written inside an input folder, and the output folder may
  not contain an input or lie inside one;
- a non-empty output folder is refused unless ``overwrite`` (replace the files this conversion
  writes, leave others alone) or ``resume`` (keep outputs it already wrote, unchanged since, make
  the rest: an interrupted run is completed by running it again with ``resume``); the files a
  conversion wrote are listed with their size and SHA-256 in ``OUT/.translate-convert.json``, and
  an existing file is only ever replaced when it is listed there unchanged (never a file the user
  put or edited there);
- each output file is written atomically (temp file + rename), so there are no half-written files;
- an input that cannot be used (corrupt, empty, no partner, size mismatch) is skipped and listed
  with its reason; :attr:`ConvertReport.exit_code` is 1 when anything was skipped and 2 when
  nothing could be converted.

Layouts made: pix2pix ``A|B`` side-by-side images (``combine``, ``aligned_from_unpaired``; inverse
``split``), CycleGAN ``trainA/trainB/testA/testB`` (``unpaired``), super-resolution ``HR`` +
``LR_x<scale>`` (``sr``), de-raining ``rain`` + ``norain`` (``rain``), inpainting masks
(``masks``). :func:`check` reports what a recipe will see in a folder and what would break it.

The modules: three shared ones, ``outputs`` (:class:`ConvertOptions`, :class:`ConvertReport`, the
``.translate-convert.json`` record and the atomic writer that keeps to it, resume, the range check
of numeric options), ``folders`` (input and output folder checks, listing and reading input
images) and ``runner`` (a conversion's tasks run on a thread pool, skipped inputs collected); then
the conversions: ``side_by_side`` (``combine``, ``split`` and ``aligned_from_unpaired``, which share
the A|B pairing) and one module named after each of the others, ``unpaired``, ``sr``, ``rain``,
``masks`` and ``check``. Callers import a function from its module
(:mod:`translate.commands.convert` does, in the handler that runs it); this ``__init__`` imports
nothing.

May import: :mod:`translate.data.layouts`, :mod:`translate.data.degradations` and the ground floor
(errors, fileio, imageio, resilience), numpy, OpenCV and tqdm; never torch (nor the torch datasets
beside it in :mod:`translate.data`): tests/test_architecture.py checks every module here. The
conversion modules import the shared ones, never each other; the shared ones import no conversion.
"""
