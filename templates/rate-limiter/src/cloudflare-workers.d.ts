// The one Workers module the Worker entry imports: the Worker's bindings and variables, readable
// outside a request (the actors' SQL reads them from the Durable Object they run in). Typed here
// so the template needs no Workers type package, whose globals clash with Node's.
declare module "cloudflare:workers" {
  export const env: Record<string, unknown>;
}
