"""`posegan`: use a trained model file outside the pipeline.

    posegan predict MODEL IMAGES... [--box x,y,w,h]... [--coco FILE.json] [--out DIR]
    posegan export MODEL --format onnx|torchscript [--out FILE] [--outputs raw|joints] [--input uint8|float]
    posegan evaluate MODEL [--set mpi_inf_3dhp|h36m|mpii|mpii_3d] [--prepared-dir data/prepared] [--out FILE]

(also `python -m posegan.predict_cli ...`). MODEL is a models/<stage>.pt file written by a
training stage (e.g. models/adversarial.pt). What each command writes: README.md, "Use a
trained model"; the computations: posegan/predict_images.py and posegan/export.py.
Errors are one line on stderr naming the file and what was expected, exit status 1.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from posegan.atomic_files import exit_if_terminated, exit_on_sigterm
from posegan.data.sets import scored_sets
from posegan.errors import PoseganError
from posegan.heatmaps import HEATMAP_STRIDE
from posegan.model_file import depth_trained, load_model
from posegan.output_paths import check_output_path


# Where `posegan predict` writes by default: a folder no DVC stage owns (git-ignored).
DEFAULT_OUT = "outputs/predict"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group()
def posegan() -> None:
    """Use a trained posegan model file: 3D poses from photos, export, evaluation."""


@posegan.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.argument("images", nargs=-1, required=True, type=click.Path())
@click.option("--box", "boxes", multiple=True, metavar="X,Y,W,H",
              help="person box in original-image pixels (top-left corner, width, height); repeat for several "
                   "people; applies to every image")
@click.option("--coco", "coco_path", type=click.Path(dir_okay=False),
              help="COCO-style JSON: 'images' (file_name, id) and person 'annotations' (bbox [x,y,w,h], "
                   "optional keypoints)")
@click.option("--out", "out_dir", default=DEFAULT_OUT, show_default=True, type=click.Path(file_okay=False),
              help="folder for <image stem>_<person>.json and .png (not inside a DVC stage's output)")
@click.option("--image-size", type=int, default=None,
              help="crop side the model was trained at (default: the model file's, else 128)")
@click.option("--no-figure", is_flag=True, help="write the JSON only")
@click.option("--threads", type=int, default=1, show_default=True,
              help="torch CPU threads (one image at a time is fastest on one thread; 0: torch's default)")
@click.option("--progress/--no-progress", default=None, help="progress bar (default: when a folder is given)")
@click.option("--stop-on-error", is_flag=True,
              help="stop at the first image that fails (default: report it, go on, exit 1 at the end)")
def predict(model, images, boxes, coco_path, out_dir, image_size, no_figure, threads, progress,
            stop_on_error) -> None:
    """3D poses of the people in IMAGES (files or folders).

    The person box comes from --box, from --coco, or is the whole image. Writes per person
    OUT/<stem>_<k>.json (2D joints in original-image pixels, the root-relative 3D pose in mm,
    joint names, the model and its MD5) and OUT/<stem>_<k>.png (2D overlay beside the 3D
    skeleton). An image that fails (unreadable, a bad box, not in --coco) is reported on its
    own line and skipped; the exit status is 1 if any failed.
    """
    import torch
    from tqdm import tqdm

    from posegan import predict_images as pi

    if threads < 0:
        _fail(f"--threads {threads}: expected 0 (torch's default) or a positive number")
    if threads:
        torch.set_num_threads(threads)

    if boxes and coco_path:
        _fail("give either --box or --coco, not both")
    try:
        parsed = [pi.parse_box(b) for b in boxes]
        coco = pi.read_coco(coco_path) if coco_path else None
        files, folder = pi.list_images(list(images))
        check_output_path(out_dir, "--out", folder=True)
        generator, info = load_model(model)
    except PoseganError as err:
        _fail(str(err))
    size = _image_size(image_size, info, model)
    with_3d = depth_trained(info)
    if not with_3d:
        _warn(f"{model}: a model file of stage {info.get('stage')}, whose depth regressor is untrained: no 3D "
              "pose is written (joints_3d_mm null); use models/pretrain_depth.pt or models/adversarial.pt")
    out = Path(out_dir)
    try:
        created = _make_folder(out)
    except OSError as err:
        _fail(f"{out}: cannot create the output folder ({err.strerror or err})")

    def report(line: str) -> None:        # its own line, above the progress bar
        tqdm.write(line, file=sys.stderr)

    show = folder if progress is None else progress
    written, people_total, seconds, first_seconds, failed, done = 0, 0, 0.0, 0.0, 0, 0
    try:
        for path in tqdm(files, desc="predict", unit="image", disable=not show, file=sys.stderr):
            exit_if_terminated()
            try:
                if coco is not None and path.name not in coco:
                    raise pi.InputError(f"{path}: not listed in {coco_path}'s 'images' (expected an entry with "
                                        f"file_name {path.name!r}); skipped")
                image = pi.read_image(path)
                height, width = image.shape[:2]
                if coco is not None:
                    people = coco[path.name]
                elif parsed:
                    people = [pi.Person(b, "--box") for b in parsed]
                else:
                    people = [pi.Person((0.0, 0.0, float(width), float(height)), "whole image")]
                for person in people:
                    pi.check_box(person.box, width, height, path, person.source)
            except pi.InputError as err:
                report(f"error: {err}")
                failed += 1
                if stop_on_error:
                    break
                continue
            for person in people:
                warning = pi.crop_warning(person.box, path, person.source, size)
                if warning:
                    report(f"warning: {warning}")
            start = time.perf_counter()
            results = pi.estimate(generator, image, people, size, HEATMAP_STRIDE)
            if done:                         # the first call also pays the start-up of torch's kernels
                seconds += time.perf_counter() - start
            else:
                first_seconds = time.perf_counter() - start
            done += 1
            people_total += len(results)
            for k, result in enumerate(results):
                stem = out / f"{path.stem}_{k}"
                if not no_figure:
                    title = f"{path.name} person {k}  |  {Path(model).name} ({info.get('stage')}, it {info.get('iteration')})"
                    pi.write_figure(pi.figure(image, result, title, with_3d), stem.with_suffix(".png"))
                pi.write_json(pi.record(result, path, image.shape, info, size, HEATMAP_STRIDE, with_3d),
                              stem.with_suffix(".json"))
                written += 1
            if not results:
                report(f"warning: {path}: no person annotated in {coco_path}; nothing written")
    finally:                  # also on SIGTERM: no empty folder left behind
        if not written:
            _remove_empty(created)
    exit_if_terminated()
    if done:
        per_image = seconds / (done - 1) if done > 1 else first_seconds
        click.echo(f"predict: {people_total} person(s) in {done} image(s) -> {out}/ "
                   f"(crop + network + decoding {per_image * 1000:.0f} ms per image"
                   + (", including start-up)" if done == 1 else ", first image not counted)"))
    if failed:
        stopped = " (stopped there: --stop-on-error)" if stop_on_error else ""
        _fail(f"{failed} of {len(files)} image(s) failed, each named above{stopped}; "
              f"{written} person file(s) written")


def _image_size(option: int | None, info: dict, model: str) -> int:
    """The crop side to run at: --image-size, else the model's; a warning when they differ."""
    size = option or info["image_size"]
    if size % 64:
        _fail(f"--image-size {size}: the hourglass needs a multiple of 64")
    if size != info["image_size"]:
        _warn(f"--image-size {size}: {model} was trained on {info['image_size']}-px crops; other sizes give "
              "poorer poses")
    return size


def _make_folder(folder: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the ones created, deepest first."""
    created = [p for p in [folder, *folder.parents] if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return created


def _remove_empty(created: list[Path]) -> None:
    """Remove the folders `_make_folder` created if they are (still) empty."""
    for folder in created:
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


@posegan.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), required=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="output file (default: MODEL with .onnx or .ts.pt)")
@click.option("--outputs", type=click.Choice(["raw", "joints"]), default="raw", show_default=True,
              help="raw: last-stack heatmaps + depth; joints: decoded 2D joints (crop px) + depth + confidence")
@click.option("--input", "input_kind", type=click.Choice(["uint8", "float"]), default="uint8", show_default=True,
              help="uint8 (B,S,S,3) RGB crops, or float32 (B,3,S,S) normalised x/127.5-1")
@click.option("--image-size", type=int, default=None,
              help="crop side (default: the model file's, else 128); the batch axis is dynamic")
@click.option("--check/--no-check", default=True, show_default=True,
              help="compare the exported file with PyTorch on CPU and print the max abs difference")
def export(model, fmt, out_path, outputs, input_kind, image_size, check) -> None:
    """Export the generator of MODEL (see posegan/export.py for inputs and outputs)."""
    from posegan.export import export_model, parity

    target = Path(out_path) if out_path else Path(model).with_suffix(".onnx" if fmt == "onnx" else ".ts.pt")
    try:
        check_output_path(target, "--out")
        generator, info = load_model(model)
    except PoseganError as err:
        _fail(str(err))
    size = _image_size(image_size, info, model)
    if not depth_trained(info):
        _warn(f"{model}: a model file of stage {info.get('stage')}, whose depth regressor is untrained: "
              "the exported depth output means nothing")
    if fmt == "onnx" and info["model_params"].get("depth_pooling", "global") == "grid" and size % 128:
        _fail(f"{model}: ONNX cannot express the depth regressor's 4 x 4 grid pooling at image size {size} "
              "(its last map must be a multiple of 4 wide: use an image size that is a multiple of 128)")
    if fmt == "onnx":
        try:
            import onnx  # noqa: F401
        except ImportError:
            _fail("--format onnx needs the onnx package, which is not installed: pip install -e '.[export]' "
                  "(the export extra: onnx and onnxruntime)")
    try:
        export_model(generator, target, fmt, size, input_kind, outputs)
    except Exception as err:  # noqa: BLE001 - the exporters raise many types; report one line
        line = (str(err).strip().splitlines() or [type(err).__name__])[0][:240]
        _fail(f"{model}: {fmt} export at image size {size} failed ({type(err).__name__}: {line})")
    click.echo(f"export: {target} ({fmt}; input {input_kind} {'(B,%d,%d,3)' % (size, size) if input_kind == 'uint8' else '(B,3,%d,%d)' % (size, size)}; "
               f"outputs {outputs})")
    if check:
        if fmt == "onnx":
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                click.echo("export: parity check skipped (onnxruntime is not installed: pip install posegan[export])")
                return
        diffs = parity(generator, target, fmt, size, input_kind, outputs)
        click.echo("export: max abs difference vs PyTorch (CPU): "
                   + ", ".join(f"{name} {value:.3g}" for name, value in diffs.items()))


@posegan.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--set", "which", default="mpi_inf_3dhp", show_default=True,
              help=f"test set to score, a key of the dataset table: {', '.join(scored_sets())} "
                   "(its prepared file must exist)")
@click.option("--prepared-dir", default="data/prepared", show_default=True, type=click.Path(file_okay=False))
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="also write the scores as JSON here (not inside a DVC stage's output)")
@click.option("--batch-size", default=32, show_default=True, type=int)
def evaluate(model, which, prepared_dir, out_path, batch_size) -> None:
    """Score MODEL on one prepared test set (e.g. your MPI-INF-3DHP test set alone)."""
    from posegan.data.dataset import PoseDataset
    from posegan.data.schema import read_prepared, validate
    from posegan.errors import InputDataError
    from posegan.predict import predict as run
    from posegan.metrics_json import rounded
    from posegan.scoring import SetScoring, score_set, scores_3d

    if batch_size < 1:
        _fail(f"--batch-size {batch_size}: expected an integer >= 1")
    try:
        if out_path:
            check_output_path(out_path, "--out")
    except PoseganError as err:
        _fail(str(err))
    if which not in scored_sets():
        _fail(f"--set {which}: not a test set of the dataset table (posegan/data/sets.py); "
              f"choose one of {', '.join(scored_sets())}")
    entry = scored_sets()[which]
    path = entry.path(prepared_dir)
    if not path.exists():
        _fail(f"{path}: prepared test file not found; prepare it first (data.source: real with "
              f"data.real.{entry.dataset}_root set, then python -m stages.preprocess; see docs/real-datasets.md)")
    try:
        attrs = validate(path)
        if (attrs["dataset"], attrs["split"]) != (entry.dataset, entry.split):
            raise InputDataError(f"{path}: its attributes say dataset {attrs['dataset']!r}, split {attrs['split']!r}; "
                                 f"--set {which} scores {entry.dataset!r}, split {entry.split!r} "
                                 "(prepare the right file, or choose the matching --set)")
        generator, info = load_model(model)
    except PoseganError as err:
        _fail(str(err))
    if scores_3d(entry.scorer) and not depth_trained(info):
        _warn(f"{model}: a model file of stage {info.get('stage')}, whose depth regressor is untrained: "
              "its 3D scores measure nothing")
    dataset = PoseDataset(path)
    pred = run(generator, dataset, batch_size=batch_size)
    labels, attrs = read_prepared(path)
    scores = score_set(entry.scorer, pred, labels, SetScoring(list(attrs["action_names"]), dataset.image_size))
    result = {"model": {"path": str(model), "stage": info.get("stage"), "iteration": info.get("iteration"),
                        "md5": info.get("md5")},
              "set": which, "file": str(path), **rounded(scores)}
    if out_path:
        from posegan.predict_images import write_json

        write_json(result, out_path)
    click.echo(json.dumps(result, indent=2))


def main() -> None:
    exit_on_sigterm()      # a SIGTERM removes the .tmp file being written, as any error does
    posegan()


if __name__ == "__main__":
    main()
