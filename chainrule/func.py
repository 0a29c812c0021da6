"""Functional transforms (to be written): grad, value_and_grad, vjp, jvp, hessian."""
