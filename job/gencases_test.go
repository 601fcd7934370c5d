package job

// genCases lists small configs of the numerically solved families for the
// gen tests.
func genCases() map[string]string {
	return map[string]string{
		"burgers": `
pde: {name: burgers, params: {nu: 0.1}}
mesh: {t: {min: 0, max: 1, n: 5}, x: {min: -1, max: 1, n: 17}}
basis: {kind: chebyshev, degrees: [2, 3]}
`,
		"diffusion-sorption": `
pde: {name: diffusion-sorption, ic: {kind: constant}}
mesh: {t: {min: 0, max: 50, n: 6}, x: {min: 0.03125, max: 0.96875, n: 16}}
basis: {kind: chebyshev, degrees: [2, 3]}
`,
		"navier-stokes-2d": `
pde: {name: navier-stokes-2d, params: {nu: 1.0e-3}, ic: {kind: grf}}
mesh: {t: {min: 0, max: 0.05, n: 3}, x: {min: 0, max: 1, n: 16, periodic: true}, y: {min: 0, max: 1, n: 16, periodic: true}}
basis: {kind: chebyshev, degrees: [2, 2, 2]}
`,
	}
}
