package job

// genCases lists configs of the numerically solved families for the gen
// tests, kept small.
func genCases() map[string]string { return nil }
