/** One problem with a published event, located by a JSON pointer into the request body. */
export interface EventProblem {
  path: string;
  message: string;
}

/** A publish was refused as a whole: nothing was put on the bus. */
export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
  constructor(readonly details: EventProblem[]) {
    super(details.map((d) => `${d.path || '/'}: ${d.message}`).join('; '));
  }
}
