export { TextDetector, textDetectionsFromFrame } from './text-detector.js';
