// Golden statistics of the real VGG-19 test weights, from their README
// (../shared/data/weights/vgg19-normalised-conv3_1/README.md): a float64
// forward of chelsea_256.png with Caffe preprocessing; per tap the mean, the
// population standard deviation and the sum of squares.
export const GOLDEN = {
  reflect: {
    relu1_1: [0.759636794, 1.197628982, 8436268.876301],
    relu1_2: [0.784264332, 1.132070662, 7955145.669674],
    relu2_1: [0.744133535, 1.146056901, 3915762.657057],
    relu2_2: [0.736236448, 1.559283581, 6235691.459467],
    relu3_1: [0.704137191, 1.399346982, 2573185.749537],
  },
  zero: {
    relu1_1: [0.765412949, 1.207269428, 8570458.145493],
    relu1_2: [0.787958191, 1.136388880, 8020590.528010],
    relu2_1: [0.750406050, 1.153925215, 3973374.577354],
    relu2_2: [0.752720230, 1.587042207, 6470323.589652],
    relu3_1: [0.725949963, 1.414729252, 2651284.785217],
  },
} as Record<"reflect" | "zero", Record<string, number[]>>;
