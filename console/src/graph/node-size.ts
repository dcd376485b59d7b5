// The size of a step's node in the run graph (drawn by StepNode, placed by the layouts).
export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 62;
