export { TextDetector, textDetectionsFromFrame, defaultOcrModelPaths, DEFAULT_TEXT_DETECTOR_OPTIONS } from './text-detector.js';
export type { TextRegion, ReadText, TextDetectorOptions } from './text-detector.js';
export { frameToRawImage, type RawImage } from './image.js';
export { extractPhoneNumbers } from './phones.js';
export { ctcGreedyDecode, parseCharset } from './ctc.js';
export { dbBoxes, DEFAULT_DB_OPTIONS, type DbOptions, type MapBox } from './db-postprocess.js';
