"""The built-in synthetic two-domain benchmark (the embedded default data source).

- `body`: skeleton proportions, joint angles with anatomical limits, forward kinematics.
- `motions`: the 15 lab actions, the wild pose mixture, the 7 cross-domain activities.
- `render`: `render_pose`, a ray caster that renders any 16-joint pose with any pinhole camera.
- `scenes`: cameras, studio and cluttered backgrounds, occluders, lighting, camera effects.
- `benchmark`: generates the samples and writes the prepared files.
"""

from posegan.data.synthetic.benchmark import SyntheticConfig, generate_samples, split_specs, write_benchmark
from posegan.data.synthetic.render import Appearance, Light, Rendering, render_pose

__all__ = ["Appearance", "Light", "Rendering", "SyntheticConfig", "generate_samples", "render_pose",
           "split_specs", "write_benchmark"]
