// Package config reads the YAML configuration of an hcmoe run: the equation,
// its grid, the split into experts, the local solver, the basis, the
// derivative scheme, the transport and the output directory.
//
// Parsing is strict. An unknown key anywhere, a duplicate key, a value of the
// wrong type and a value out of range are all errors, and every error is an
// *Error that names the file, the line and the dotted key path:
//
//	heat.yaml:12: experts.overlapp: unknown key (known: split, points, ic_bc, coupling, overlap, sweeps, interface_tol)
//	heat.yaml:7: mesh.x.n: must be ≥ 3, got 1
//
// A misspelt key is the most common configuration mistake, and silently
// ignoring it would run a different experiment from the one written down.
//
// # Schema and defaults
//
// Keys are snake_case. A key that is absent takes the default below; a key
// marked "required" must be given. An explicit null is an error for a value
// and an empty mapping for a section.
//
//	key                     default           meaning
//	seed                    1                 seed of every random choice of the run (sampling, features)
//	pde.name                required          heat, burgers, diffusion-sorption, allen-cahn, navier-stokes-2d (gen only)
//	pde.params.<name>       the equation's    equation parameters; see package pde (heat: kappa 0.1;
//	                                          burgers: nu 0.01/π; allen-cahn: epsilon 0.1;
//	                                          diffusion-sorption: D, porosity, rho_s, k_f, n_f, eps)
//	pde.ic.kind             the equation's    initial condition: sine (heat, burgers, allen-cahn), constant (diffusion-sorption)
//	pde.ic.amplitude        1                 heat, sine: u0 = amplitude·sin(k·π·x)
//	pde.ic.k                1                 heat, sine: wave number
//	pde.ic.c                unset             diffusion-sorption, constant: u0 = c; unset means gen draws
//	                                          c ~ U(0, 0.2) per instance, and solve needs it (InitialConstant)
//	mesh.t, mesh.x          required          axes {min, max, n}: n points on [min, max], both ends included
//	mesh.y                  absent            the second space axis, given exactly for 2-D equations
//	mesh.<axis>.periodic    false             periodic space axis: n points on [min, max); not for t
//	experts.split           [1, 1(, 1)]       number of experts along each axis (t, x[, y])
//	experts.points          20000             interior collocation points per expert
//	experts.ic_bc           local             how initial and boundary rows reach the experts: local (each
//	                                          expert takes those inside its own block) or replicate
//	experts.coupling        none              none or schwarz (iterated exchange of interface values)
//	experts.overlap         0                 grid points by which each expert's block is extended, ≥ 0
//	experts.sweeps          20                most Schwarz sweeps; ≥ 1 with coupling schwarz
//	experts.interface_tol   1e-6              Schwarz stops once the interface mismatch is below it
//	solver.method           auto              auto, dense or krylov (constraint.Method)
//	solver.tol              1e-10             relative gradient tolerance (constraint.Settings.GradTol)
//	solver.step_tol         1e-12             relative step tolerance
//	solver.cost_tol         1e-14             relative cost-decrease tolerance
//	solver.max_iter         100               Levenberg–Marquardt steps tried, ≥ 1
//	solver.ridge            0                 ridge λ of ½‖r‖² + ½λ‖ω‖²
//	solver.residual_weight  1                 weight of the interior PDE rows and of the loss's residual term, > 0
//	solver.model            hybrid            hybrid, gauss-newton or newton (constraint.Model)
//	solver.krylov.method    cg                cg or lsqr (constraint.Inner)
//	solver.krylov.tol       1e-12             floor of the inner relative tolerance
//	solver.krylov.max_iter  0                 inner iterations per step; 0 means 10·N
//	solver.backward         exact             exact or gauss-newton Hessian of the implicit backward
//	basis.kind              chebyshev         chebyshev, random-features, pod (mlp, fno: not implemented yet)
//	basis.degrees           required          chebyshev: polynomial degree per axis (t, x[, y]), each ≥ 1
//	basis.features          required          random-features: number of features M
//	basis.scale             1                 random-features: frequency scale s > 0
//	basis.seed              seed              random-features: seed of the features
//	basis.data              required          pod: snapshot file (.npz); relative to the config file in Load
//	basis.n                 required          pod: number of modes
//	derivatives             fd2               fd2, fd4 (mesh.Scheme) or spectral (not implemented yet)
//	transport.nats_url      ""                NATS server; empty runs an embedded server
//	transport.local_experts experts in split  experts run inside the coordinator process, ≥ 0
//	transport.compression   zstd              zstd, s2 or none
//	transport.timeout       30s               deadline of one request (a Go duration, > 0)
//	transport.retries       3                 retries of a failed request, ≥ 0
//	transport.max_payload   0                 largest message in bytes; 0 means the server's limit
//	output.dir              out               output directory; the -out flag overrides it
//	train.mode              hard              hard (PI-HC, PI-HC-MoE) or soft (PI-SC)
//	train.network.kind      mlp               mlp or fno
//	train.network.hidden    [32, 32]          mlp: hidden widths
//	train.network.width     32                fno: channels
//	train.network.layers    4                 fno: Fourier layers
//	train.network.modes     [8, 8]            fno: kept frequencies per axis
//	train.network.projection 64               fno: hidden width of the projection
//	train.network.out       16                basis functions N (hard mode)
//	train.data, train.test  ""                gen datasets; relative paths are taken beside the config
//	train.init              ""                checkpoint whose parameters start the run (not its optimizer or step); relative as above
//	train.steps             100               optimizer steps, ≥ 1
//	train.batch             1                 instances per step, ≥ 1
//	train.optimizer         adam              adam, adamw or lion
//	train.lr                1e-3              base learning rate, > 0
//	train.schedule          step              constant, step, exponential or linear
//	train.decay_every       800               step schedule: steps per decay
//	train.decay_factor      0.5               step schedule: factor per decay
//	train.final_lr          1e-4              floor (step) or end value (exponential, linear)
//	train.warmup            0                 linear warm-up steps
//	train.clip              1                 global gradient-norm clip; 0 turns it off
//	train.weight_decay      0                 adamw and lion
//	train.checkpoint_every  50                steps between checkpoints
//	train.unconverged       skip              an expert that did not converge: skip its gradient, or fail the step
//	train.loss              squares           squares: the loss terms' mean squares; norms: their root mean squares (the paper's sum of norms)
//
// The data section is reserved and rejected until it is defined.
//
// The tolerances solver.tol, solver.step_tol, solver.cost_tol and
// solver.krylov.tol may be 0, which disables that test: package constraint
// reads a zero setting as "use the default", so SolverSettings passes the
// smallest positive float instead.
//
// # Use
//
// Load or Parse returns a validated *Config with every default filled in, so
// its fields can be read directly. Grid, Equation, Scheme, SolverSettings and
// BackwardSettings turn it into the values of packages mesh, pde and
// constraint. A program that changes a Config after parsing it, for example
// from command-line flags, should call Validate before using it again.
package config
