// Package transport carries local problems between the coordinator and its
// experts: a versioned, checksummed, compressed binary encoding of the
// messages below, chunking for payloads larger than a server allows, and the
// NATS service and client built on them.
//
// The messages hold constraint's own types; transport adds no numerics and
// rebuilds residuals only by name through package pde's registry.
package transport

import "github.com/hcmoe/hcmoe/constraint"

// Kind identifies a message type on the wire.
type Kind uint8

const (
	KindSolveRequest Kind = iota + 1
	KindSolveReply
	KindBackwardRequest
	KindBackwardReply
)

func (k Kind) String() string {
	switch k {
	case KindSolveRequest:
		return "solve-request"
	case KindSolveReply:
		return "solve-reply"
	case KindBackwardRequest:
		return "backward-request"
	case KindBackwardReply:
		return "backward-reply"
	}
	return "unknown"
}

// Message is one of the four message types.
type Message interface {
	Kind() Kind
}

// SolveRequest asks an expert to solve one local problem. It carries
// everything the solve needs: experts are stateless to the outside.
type SolveRequest struct {
	// Key names the forward for a later backward; unique per run, step and
	// expert index (for example "run/step/expert").
	Key      string
	Problem  *constraint.Problem
	Settings constraint.Settings // Monitor is not carried
	Warm     []float64           // optional warm start, length Problem.N
	// Keep asks the expert to cache the forward state for a backward.
	Keep bool
}

// SolveReply is an expert's answer to a SolveRequest.
type SolveReply struct {
	Key    string
	Expert string // the instance that solved it, for sticky backwards
	Result constraint.Result
}

// BackwardRequest asks for the implicit backward of a cached forward. When
// the expert that ran the forward is gone, the coordinator resends with
// Problem and Result set, and any expert can serve it.
type BackwardRequest struct {
	Key      string
	OmegaBar []float64
	Settings constraint.BackwardSettings
	Problem  *constraint.Problem // optional: the full forward, for a resend
	Result   *constraint.Result  // required with Problem
}

// BackwardReply carries the rank-two cotangents of a backward.
type BackwardReply struct {
	Key        string
	Expert     string
	Cotangents constraint.Cotangents
}

func (*SolveRequest) Kind() Kind    { return KindSolveRequest }
func (*SolveReply) Kind() Kind      { return KindSolveReply }
func (*BackwardRequest) Kind() Kind { return KindBackwardRequest }
func (*BackwardReply) Kind() Kind   { return KindBackwardReply }
